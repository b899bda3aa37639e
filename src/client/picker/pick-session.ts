/**
 * The full-screen session picker, drawn with blessed. `pickSession()` takes the
 * terminal, lets the user move, filter, kill, and pick a session to attach to,
 * view or create, then gives the terminal back — blessed torn down, raw mode off,
 * normal screen and cursor back — and resolves to the choice (null: quit).
 *
 * blessed is loaded here, lazily, and nowhere else: only the picker pays for it.
 */
import type { Widgets } from 'blessed';
import { cutToWidth, fitHelp, fitTable, filterSessions, formatRow, headerRow, LIST_HELP, LIST_HELP_DROP_ORDER, previewLines, sanitize, sessionCells, sortSessions, type Column, type HelpItem, type TableLayout } from './rows.js';
import { quietly, resolveTerminal, TerminalGuard } from './terminal.js';
import type { PickerChoice, PickerOptions, PickerSession, PickerSource } from './types.js';

type Blessed = typeof import('blessed');

/** The picker was ended by a signal; the terminal is already restored. */
export class PickerInterrupted extends Error {
  override name = 'PickerInterrupted';
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}

/** Waiting this long after the highlight moved before capturing its screen keeps fast scrolling cheap. */
const PREVIEW_DEBOUNCE_MS = 60;
/** Ages and the highlighted session's screen are refreshed this often while the picker is open. */
const TICK_MS = 1000;
/** How long a message stays (on the prompt line; on the help line while a prompt holds that one). */
const MESSAGE_MS = 4000;
/** The rows that are not list or preview: title, column header, separator, prompt line, help line. */
const FIXED_ROWS = 5;

const SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT'];

type Mode =
  | { kind: 'list' }
  | { kind: 'filter' }
  | { kind: 'create'; input: string }
  | { kind: 'confirm-kill'; name: string }
  | { kind: 'confirm-takeover'; name: string };

/** SGR for the few attributes the picker uses; colours only when allowed. */
interface Styles {
  selected: [string, string];
  attached: [string, string];
  key: [string, string];
  header: [string, string];
}
const plainStyles: Styles = {
  selected: ['\x1b[7m', '\x1b[27m'],
  attached: ['', ''],
  key: ['\x1b[1m', '\x1b[22m'],
  header: ['\x1b[1m', '\x1b[22m'],
};
const colorStyles: Styles = {
  selected: ['\x1b[1;37;44m', '\x1b[0m'],
  attached: ['\x1b[32m', '\x1b[39m'],
  key: ['\x1b[1;36m', '\x1b[22;39m'],
  header: ['\x1b[1m', '\x1b[22m'],
};

async function loadBlessed(): Promise<Blessed> {
  // blessed is CommonJS that assigns its exports dynamically: Node's ESM loader
  // exposes them on `default` only.
  const mod = (await import('blessed')) as unknown as Blessed & { default?: Blessed };
  return mod.default ?? mod;
}

/**
 * Shows the picker until the user picks something (resolves to the choice) or
 * quits (resolves to null). Rejects with PickerInterrupted on SIGTERM, SIGINT,
 * SIGHUP or SIGQUIT, and with any error the UI hit; in every case the terminal
 * is restored before the promise settles.
 */
export async function pickSession(source: PickerSource, options: PickerOptions): Promise<PickerChoice> {
  const blessed = await loadBlessed();
  return new Promise<PickerChoice>((resolve, reject) => {
    const ui = new PickerUi(blessed, source, options, (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome)));
    ui.start();
  });
}

class PickerUi {
  private readonly styles: Styles;
  private readonly color: boolean;
  private readonly current: string | null;
  private sessions: PickerSession[];
  private filter = '';
  private selectedName: string | null = null;
  private selectedIndex = 0;
  private scrollTop = 0;
  private mode: Mode = { kind: 'list' };
  private message: { text: string; until: number } | null = null;
  private preview: { name: string; text: string } | null = null;
  private loaded: boolean;

  private listing: Promise<void> | null = null;
  private listAgain = false;
  private previewTimer: NodeJS.Timeout | null = null;
  private previewInFlight = false;
  private tick: NodeJS.Timeout | null = null;
  private unwatch: (() => void) | null = null;
  /** The change feed ended (daemon restarted...): `r` starts it again. */
  private watchLost = false;
  private finished = false;

  private guard!: TerminalGuard;
  private screen!: Widgets.Screen;
  private title!: Widgets.BoxElement;
  private header!: Widgets.BoxElement;
  private list!: Widgets.BoxElement;
  private separator!: Widgets.BoxElement;
  private previewBox!: Widgets.BoxElement;
  private prompt!: Widgets.BoxElement;
  private help!: Widgets.BoxElement;
  private usedAltScreen = true;
  private readonly onSignal = (signal: NodeJS.Signals): void => this.finish(new PickerInterrupted(signal), signal === 'SIGHUP');
  private readonly onExit = (): void => this.finish(null, false);

  constructor(
    private readonly blessed: Blessed,
    private readonly source: PickerSource,
    options: PickerOptions,
    private readonly settle: (outcome: PickerChoice | Error) => void,
  ) {
    this.color = options.color;
    this.styles = options.color ? colorStyles : plainStyles;
    this.sessions = options.initial ?? [];
    this.current = options.current ?? null;
    this.loaded = options.initial !== undefined;
  }

  start(): void {
    this.guard = new TerminalGuard((line) => this.say(line));
    try {
      this.createScreen();
    } catch (err) {
      this.finish(err as Error, false);
      return;
    }
    for (const s of SIGNALS) process.on(s, this.onSignal);
    process.on('exit', this.onExit);
    this.screen.on('keypress', (ch: string | undefined, key: Widgets.Events.IKeyEventArg | undefined) => this.guarded(() => this.onKey(ch, key)));
    this.screen.on('resize', () => this.guarded(() => this.render()));
    this.startWatching();
    this.tick = setInterval(() => this.guarded(() => {
      this.render();
      this.loadPreview();
    }), TICK_MS);
    this.render();
    this.loadPreview();
    if (!this.loaded) this.refresh();
  }

  private startWatching(): void {
    this.watchLost = false;
    this.unwatch = this.source.watch({
      changed: () => this.refresh(),
      lost: (reason) => {
        this.watchLost = true;
        this.say(reason);
      },
    });
  }

  private createScreen(): void {
    const b = this.blessed;
    const terminal = resolveTerminal(process.env.TERM);
    // blessed prints terminfo compile errors with console.error while it sets up.
    this.screen = quietly(() =>
      b.screen({
        input: process.stdin,
        output: process.stdout,
        terminal,
        fullUnicode: true,
        warnings: false,
        smartCSR: false,
        autoPadding: false,
        sendFocus: false,
        dockBorders: false,
      }),
    );
    // A terminal without an alternate screen (the Linux console) keeps what we draw.
    // (`strings` is missing from @types/blessed.)
    const tput = this.screen.tput as unknown as { strings: Record<string, string | undefined> };
    this.usedAltScreen = !!tput.strings.enter_ca_mode;
    const box = (opts: Widgets.BoxOptions): Widgets.BoxElement =>
      b.box({ parent: this.screen, left: 0, width: '100%', height: 1, tags: false, wrap: false, ...opts });
    this.title = box({ top: 0, style: this.color ? { fg: 'white', bg: 'blue', bold: true } : { inverse: true } });
    this.header = box({ top: 1 });
    this.list = box({ top: 2 });
    this.separator = box({ top: 3 });
    this.previewBox = box({ top: 4 });
    this.prompt = box({ top: 5 });
    this.help = box({ top: 6 });
  }

  /** Runs a UI step; an exception ends the picker (terminal restored) instead of leaving it half-drawn. */
  private guarded(fn: () => void): void {
    if (this.finished) return;
    try {
      fn();
    } catch (err) {
      this.finish(err as Error, false);
    }
  }

  /** Restores everything, then settles. Safe to call more than once (and from 'exit'). */
  private finish(outcome: PickerChoice | Error, terminalGone: boolean): void {
    if (this.finished) return;
    this.finished = true;
    if (this.tick) clearInterval(this.tick);
    if (this.previewTimer) clearTimeout(this.previewTimer);
    for (const s of SIGNALS) process.off(s, this.onSignal);
    process.off('exit', this.onExit);
    try {
      this.unwatch?.();
    } catch {
      // the source's own cleanup failing must not keep the terminal raw
    }
    try {
      this.screen?.destroy();
    } catch {
      // blessed failing to clean up: the guard below still restores the terminal
    }
    this.guard.release({ usedAltScreen: this.usedAltScreen, terminalGone });
    this.settle(outcome);
  }

  // ---- data ----

  private visible(): PickerSession[] {
    return sortSessions(filterSessions(this.sessions, this.filter));
  }

  private selected(): PickerSession | undefined {
    return this.visible()[this.selectedIndex];
  }

  /** Fetches the sessions again; calls made meanwhile coalesce into one more fetch. */
  private refresh(): void {
    if (this.finished) return;
    if (this.listing) {
      this.listAgain = true;
      return;
    }
    this.listing = this.source
      .list()
      .then((sessions) => {
        this.sessions = sessions;
        this.loaded = true;
      })
      .catch((err: Error) => this.say(err.message))
      .finally(() => {
        this.listing = null;
        this.guarded(() => this.render());
        if (this.listAgain) {
          this.listAgain = false;
          this.refresh();
        }
      });
  }

  private schedulePreview(): void {
    if (this.finished) return;
    if (this.previewTimer) clearTimeout(this.previewTimer);
    this.previewTimer = setTimeout(() => this.loadPreview(), PREVIEW_DEBOUNCE_MS);
  }

  private loadPreview(): void {
    const name = this.selected()?.name;
    if (this.finished || this.previewInFlight || name === undefined) return;
    this.previewInFlight = true;
    this.source
      .preview(name)
      .then(
        (text) => ({ name, text }),
        (err: Error) => ({ name, text: `(no preview: ${err.message})` }),
      )
      .then((p) => {
        this.previewInFlight = false;
        this.preview = p;
        this.guarded(() => this.render());
        // The highlight moved while we waited: show the new one's screen.
        if (this.selected()?.name !== name) this.schedulePreview();
      });
  }

  private kill(name: string): void {
    this.say(`killing '${name}'...`);
    this.source.kill(name).then(
      () => {
        this.say(`killed '${name}'`);
        this.refresh();
      },
      (err: Error) => this.say(err.message),
    );
  }

  // ---- keys ----

  private onKey(ch: string | undefined, key: Widgets.Events.IKeyEventArg | undefined): void {
    const name = key?.full ?? ch ?? '';
    // blessed reports Enter twice: as 'enter' and as 'return'.
    if (name === 'return') return;
    if (name === 'C-c') return this.finish(null, false);
    // eslint-disable-next-line no-control-regex -- typed text excludes control characters
    const typed = ch !== undefined && !key?.ctrl && !key?.meta && ch.length > 0 && !/[\u0000-\u001f\u007f]/.test(ch) ? ch : null;
    switch (this.mode.kind) {
      case 'list':
        return this.onListKey(name);
      case 'filter': {
        const filterBefore = this.filter;
        if (name === 'escape') {
          this.filter = '';
          this.mode = { kind: 'list' };
        } else if (name === 'enter' || name === 'linefeed') this.mode = { kind: 'list' };
        else if (name === 'backspace') this.filter = this.filter.slice(0, -1);
        else if (name === 'up' || name === 'down') return this.onListKey(name);
        else if (typed) this.filter += typed;
        if (this.filter !== filterBefore) {
          // A new filter highlights its first match.
          this.selectedName = null;
          this.selectedIndex = 0;
        }
        return this.render();
      }
      case 'create': {
        const mode = this.mode;
        if (name === 'escape') this.mode = { kind: 'list' };
        else if (name === 'backspace') mode.input = mode.input.slice(0, -1);
        else if (name === 'enter' || name === 'linefeed') return this.create(mode.input);
        else if (typed) mode.input += typed;
        return this.render();
      }
      case 'confirm-kill': {
        const target = this.mode.name;
        this.mode = { kind: 'list' };
        if (name === 'y' || name === 'S-y') this.kill(target);
        else this.say('not killed');
        return this.render();
      }
      case 'confirm-takeover': {
        const target = this.mode.name;
        this.mode = { kind: 'list' };
        if (name === 'y' || name === 'S-y') return this.finish({ action: 'attach', name: target, force: true }, false);
        if (name === 'v') return this.finish({ action: 'view', name: target }, false);
        return this.render();
      }
    }
  }

  private onListKey(name: string): void {
    const current = this.selected();
    switch (name) {
      case 'up':
      case 'k':
      case 'C-p':
        return this.move(-1);
      case 'down':
      case 'j':
      case 'C-n':
        return this.move(1);
      case 'pageup':
        return this.move(-Math.max(1, this.listHeight() - 1));
      case 'pagedown':
        return this.move(Math.max(1, this.listHeight() - 1));
      case 'home':
      case 'g':
        return this.move(-this.sessions.length);
      case 'end':
      case 'S-g':
        return this.move(this.sessions.length);
      case 'enter':
      case 'linefeed':
        if (!current || this.refuseCurrent(current.name)) return;
        if (current.attached) {
          this.mode = { kind: 'confirm-takeover', name: current.name };
          return this.render();
        }
        return this.finish({ action: 'attach', name: current.name }, false);
      case 'v':
        if (current && !this.refuseCurrent(current.name)) this.finish({ action: 'view', name: current.name }, false);
        return;
      case 'n':
        this.message = null;
        this.mode = { kind: 'create', input: '' };
        return this.render();
      case 'x':
        if (!current) return;
        this.mode = { kind: 'confirm-kill', name: current.name };
        return this.render();
      case '/':
        this.message = null;
        this.mode = { kind: 'filter' };
        return this.render();
      case 'r':
        this.say('refreshed');
        if (this.watchLost) {
          this.unwatch?.();
          this.startWatching();
        }
        this.refresh();
        this.loadPreview();
        return;
      case 'q':
      case 'escape':
        return this.finish(null, false);
      default:
        return;
    }
  }

  /** True (and says why) when `name` is the session this terminal runs in. */
  private refuseCurrent(name: string): boolean {
    if (name !== this.current) return false;
    this.say(`this terminal is inside '${name}' already`);
    return true;
  }

  private move(delta: number): void {
    const count = this.visible().length;
    if (count === 0) return;
    this.selectedIndex = Math.max(0, Math.min(count - 1, this.selectedIndex + delta));
    this.selectedName = this.visible()[this.selectedIndex]!.name;
    this.render();
    this.schedulePreview();
  }

  private create(name: string): void {
    const problem = this.source.nameProblem(name);
    if (problem) {
      this.say(problem);
      return this.render();
    }
    if (this.sessions.some((s) => s.name === name)) {
      this.say(`'${name}' exists already: select it and press Enter to attach`);
      return this.render();
    }
    this.finish({ action: 'create', name }, false);
  }

  private say(text: string): void {
    this.message = { text, until: Date.now() + MESSAGE_MS };
    if (this.screen && !this.finished) this.guarded(() => this.render());
  }

  // ---- drawing ----

  private listHeight(): number {
    const avail = Math.max(0, this.screen.rows - FIXED_ROWS);
    const wanted = Math.max(1, this.visible().length);
    return Math.min(avail, wanted, Math.max(3, Math.floor(avail / 2)));
  }

  /** Keeps the selection on the same session across refreshes and filters. */
  private syncSelection(visible: PickerSession[]): void {
    const byName = this.selectedName === null ? -1 : visible.findIndex((s) => s.name === this.selectedName);
    this.selectedIndex = byName >= 0 ? byName : Math.max(0, Math.min(this.selectedIndex, visible.length - 1));
    this.selectedName = visible[this.selectedIndex]?.name ?? null;
  }

  private render(): void {
    if (this.finished) return;
    const width = this.screen.cols;
    const rows = this.screen.rows;
    const visible = this.visible();
    const previous = this.selectedName;
    this.syncSelection(visible);
    if (this.selectedName !== previous) this.schedulePreview();
    const now = Date.now();
    const st = this.styles;

    // Geometry: title, header, list, separator, preview, prompt, help.
    const listH = this.listHeight();
    const previewH = Math.max(0, rows - FIXED_ROWS - listH);
    const place = (el: Widgets.BoxElement, top: number, height: number): void => {
      el.top = top;
      el.height = Math.max(0, height);
      el.width = width;
      if (height <= 0 || top >= rows) el.hide();
      else el.show();
    };
    place(this.title, 0, 1);
    place(this.header, 1, 1);
    place(this.list, 2, listH);
    place(this.separator, 2 + listH, previewH > 0 ? 1 : 0);
    place(this.previewBox, 3 + listH, previewH);
    place(this.prompt, rows - 2, rows >= 4 ? 1 : 0);
    place(this.help, rows - 1, 1);

    const count = this.sessions.length;
    const shown = this.filter ? `${visible.length} of ${count}` : String(count);
    this.title.setContent(fitLine(` tshpool  ${shown} session${count === 1 ? '' : 's'}${this.filter ? `  filter: ${this.filter}` : ''}`, width));

    const cells = this.sessions.map((s) => sessionCells(s, now));
    const layout: TableLayout = fitTable(cells, Math.max(0, width - 2));
    this.header.setContent(`  ${st.header[0]}${headerRow(layout)}${st.header[1]}`);

    // The list, scrolled so the selection stays in view.
    if (this.selectedIndex < this.scrollTop) this.scrollTop = this.selectedIndex;
    if (this.selectedIndex >= this.scrollTop + listH) this.scrollTop = this.selectedIndex - listH + 1;
    this.scrollTop = Math.max(0, Math.min(this.scrollTop, Math.max(0, visible.length - listH)));
    const lines: string[] = [];
    if (!this.loaded) lines.push(fitLine('  loading sessions...', width));
    else if (count === 0) lines.push(fitLine('  No sessions yet. Press n to create one.', width));
    else if (visible.length === 0) lines.push(fitLine(`  No session matches '${this.filter}'. Press / then Esc to clear the filter.`, width));
    for (let i = this.scrollTop; i < Math.min(visible.length, this.scrollTop + listH); i++) {
      const s = visible[i]!;
      if (i === this.selectedIndex) {
        lines.push(`${st.selected[0]}> ${formatRow(sessionCells(s, now), layout)}${st.selected[1]}`);
      } else {
        const colour = (c: Column, text: string): string => (c === 'status' && s.attached ? `${st.attached[0]}${text}${st.attached[1]}` : text);
        lines.push(`  ${formatRow(sessionCells(s, now), layout, colour)}`);
      }
    }
    this.list.setContent(lines.join('\n'));

    const current = visible[this.selectedIndex];
    const label = current ? ` ${current.name} ` : '';
    this.separator.setContent(fitLine(`──${label}${'─'.repeat(width)}`, width));
    const previewText = current && this.preview?.name === current.name ? this.preview.text : '';
    this.previewBox.setContent(previewLines(previewText, width, previewH).join('\n'));

    this.prompt.setContent(this.promptLine(width, now));
    this.help.setContent(this.helpLine(width, now));
    this.screen.render();
  }

  private promptLine(width: number, now: number): string {
    const cursor = `${this.styles.selected[0]} ${this.styles.selected[1]}`;
    switch (this.mode.kind) {
      case 'filter':
        return `${cutToWidth(`/${sanitize(this.filter)}`, width - 1)}${cursor}`;
      case 'create':
        return `${cutToWidth(`New session name: ${sanitize(this.mode.input)}`, width - 1)}${cursor}`;
      case 'confirm-kill':
        return fitLine(`Kill session '${this.mode.name}'? y = yes, other key = no`, width);
      case 'confirm-takeover':
        return fitLine(`'${this.mode.name}' is attached elsewhere. y = take it over, v = view, other key = cancel`, width);
      case 'list':
        return this.activeMessage(now) ? fitLine(this.message!.text, width) : '';
    }
  }

  private activeMessage(now: number): boolean {
    return this.message !== null && this.message.until > now;
  }

  /** The keys of the current mode; while a prompt holds the line above, messages show here. */
  private helpLine(width: number, now: number): string {
    if (this.mode.kind !== 'list' && this.activeMessage(now)) return fitLine(this.message!.text, width);
    const items: HelpItem[] =
      this.mode.kind === 'filter'
        ? [{ key: 'Up/Down', label: 'move' }, { key: 'Enter', label: 'keep filter' }, { key: 'Esc', label: 'clear' }]
        : this.mode.kind === 'create'
          ? [{ key: 'Enter', label: 'create and attach' }, { key: 'Esc', label: 'cancel' }]
          : this.mode.kind === 'list'
            ? [...LIST_HELP]
            : [];
    const { items: fitted, separator } = fitHelp(items, width, LIST_HELP_DROP_ORDER);
    const [on, off] = this.styles.key;
    return fitted.map((i) => `${on}${i.key}${off} ${i.label}`).join(separator);
  }
}

/** `text` cut to `width` columns (blessed would wrap or clip it unpredictably). */
function fitLine(text: string, width: number): string {
  return previewLines(text, Math.max(0, width), 1)[0] ?? '';
}

