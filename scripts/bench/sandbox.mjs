/**
 * A private sandbox per tool: its own HOME, XDG_RUNTIME_DIR, TMUX_TMPDIR,
 * SCREENDIR, dtach socket dir and TMPDIR under one short temp dir, a neutral shell
 * (bash without rc files, PS1='$ '), the helper scripts the steps run, and a
 * minimal environment carrying a marker. Every process started in the sandbox
 * (clients, servers, daemons, their sessions) is found again through that marker
 * or the sandbox HOME and killed by reset()/dispose(), also on failure and Ctrl-C.
 */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { sandboxProcs, signalAll } from './procs.mjs';
import { LeanTerm } from './lean/lean-term.mjs';
import { Term } from './term.mjs';
import { sleep, token, which } from './util.mjs';

/** Live sandboxes, for the exit handlers. */
const LIVE = new Set();

const SCRIPTS = {
  // A neutral interactive shell for every tool: no rc files, a plain prompt, no history, no bracketed paste.
  'bench-shell': (sb) => `#!/bin/sh
PS1='$ '; INPUTRC='${sb.root}/inputrc'; HISTFILE=/dev/null; export PS1 INPUTRC HISTFILE
exec ${sb.bash} --norc --noprofile "$@"
`,
  // drain.sh DIR LINES: a flood that times itself (no client attached).
  'drain.sh': () => `#!/bin/sh
date +%s%N > "$1/start"
seq 1 "$2"
date +%s%N > "$1/end.tmp" && mv "$1/end.tmp" "$1/end"
`,
  // slow.sh DIR LINES CHUNK TAG: waits for DIR/go, floods in chunks recording progress, then prints END_TAG.
  'slow.sh': () => `#!/bin/sh
dir=$1; lines=$2; chunk=$3; tag=$4
echo "WAIT_$tag"
i=0
while [ ! -e "$dir/go" ]; do i=$((i+1)); [ $i -gt 3000 ] && break; sleep 0.01; done
n=0
while [ $n -lt $lines ]; do
  e=$((n+chunk)); [ $e -gt $lines ] && e=$lines
  seq $((n+1)) $e
  n=$e
  echo $n > "$dir/progress.tmp" && mv "$dir/progress.tmp" "$dir/progress"
done
date +%s%N > "$dir/done"
echo "END_$tag"
`,
  // longlines.sh DONEFILE LINES WIDTH: prints LINES lines of WIDTH characters, then idles.
  'longlines.sh': () => `#!/bin/sh
awk -v n="$2" -v w="$3" 'BEGIN { s = ""; while (length(s) < w) s = s "lorem ipsum dolor sit amet "; s = substr(s, 1, w - 8); for (i = 1; i <= n; i++) printf "%07d %s\\n", i, s }'
touch "$1"
exec sleep 100000
`,
};

export class Sandbox {
  /** @param {string} label short name (the tool) */
  constructor(label) {
    this.label = label;
    this.root = mkdtempSync(join(tmpdir(), `tb-${label.slice(0, 6)}-`));
    this.id = `${label}-${token(8)}`;
    this.bash = which('bash') ?? '/bin/bash';
    this.terms = new Set();
    const d = (name, mode = 0o700) => {
      const p = join(this.root, name);
      mkdirSync(p, { recursive: true, mode });
      chmodSync(p, mode);
      return p;
    };
    this.home = d('home');
    this.run = d('run');
    this.tmuxDir = d('tmux');
    this.screenDir = d('screen');
    this.dtachDir = d('dtach');
    this.tmp = d('tmp');
    this.bin = d('bin');
    this.work = d('work');
    writeFileSync(join(this.root, 'inputrc'), 'set enable-bracketed-paste off\nset bell-style none\n');
    for (const [name, body] of Object.entries(SCRIPTS)) {
      const p = join(this.bin, name);
      writeFileSync(p, body(this));
      chmodSync(p, 0o755);
    }
    this.shell = join(this.bin, 'bench-shell');
    const user = userInfo();
    this.marker = `BENCH_SANDBOX=${this.id}`;
    this.env = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: this.home,
      USER: user.username,
      LOGNAME: user.username,
      TERM: 'xterm-256color',
      LANG: 'C.UTF-8',
      SHELL: this.shell,
      XDG_RUNTIME_DIR: this.run,
      XDG_CONFIG_HOME: join(this.home, '.config'),
      TMUX_TMPDIR: this.tmuxDir,
      SCREENDIR: this.screenDir,
      TMPDIR: this.tmp,
      BENCH_SANDBOX: this.id,
    };
    LIVE.add(this);
  }

  path(...parts) {
    return join(this.root, ...parts);
  }

  /** A fresh empty directory under work/ for one measurement's files. */
  scratch(name) {
    const p = join(this.work, `${name}-${token(4)}`);
    mkdirSync(p, { recursive: true });
    return p;
  }

  /**
   * Starts `file args` on a new pty (a terminal the benchmark drives): node-pty in
   * this process (Term), or with `lean` the C driver (LeanTerm; `ttiMs` types a
   * command at once and times its answer).
   */
  term(file, args, { cols = 80, rows = 24, lean = false, ttiMs = 0, env = null } = {}) {
    const opts = { env: env ? { ...this.env, ...env } : this.env, cwd: this.home, cols, rows };
    const t = lean ? new LeanTerm(file, args, { ...opts, ttiMs }) : new Term(file, args, opts);
    this.terms.add(t);
    t.waitExit(24 * 3600 * 1000).then(() => this.terms.delete(t));
    return t;
  }

  /** Pids of every live process of this sandbox (servers, clients, sessions, their children). */
  procs() {
    return sandboxProcs([this.marker, `HOME=${this.home}`]);
  }

  /** Kills everything running in the sandbox and empties its socket directories. */
  async reset() {
    for (const t of this.terms) t.killNow();
    // Repeat: a server may fork a new child between the scan and the kill.
    for (let i = 0; i < 20; i++) {
      const pids = this.procs().map((p) => p.pid);
      if (pids.length === 0) break;
      signalAll(pids, 'SIGKILL');
      await sleep(50);
    }
    await Promise.all([...this.terms].map((t) => t.waitExit(1000)));
    this.terms.clear();
    for (const dir of [this.run, this.tmuxDir, this.screenDir, this.dtachDir, this.work, this.tmp]) {
      for (const f of readdirSync(dir)) rmSync(join(dir, f), { recursive: true, force: true });
    }
  }

  /** Synchronous teardown for exit handlers. */
  disposeSync() {
    for (const t of this.terms) t.killNow();
    for (let i = 0; i < 3; i++) signalAll(this.procs().map((p) => p.pid), 'SIGKILL');
    rmSync(this.root, { recursive: true, force: true });
    LIVE.delete(this);
  }

  async dispose() {
    await this.reset();
    rmSync(this.root, { recursive: true, force: true });
    LIVE.delete(this);
  }
}

/** Kills everything of every live sandbox (exit handlers). */
export function disposeAllSync() {
  for (const sb of [...LIVE]) {
    try {
      sb.disposeSync();
    } catch {
      // best effort on the way out
    }
  }
}
