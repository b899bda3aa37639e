/**
 * Skips the parts of an output flood that cannot show in the restored screen, so
 * the emulator parses a few thousand lines of `seq 1 3000000` instead of three
 * million (xterm spends most of its time per line: scrolling and recycling rows).
 *
 * Why dropping is exact: take a run of "plain" output — printable text, CR, LF,
 * TAB, SGR colour sequences and operations confined to the cursor's line (erase
 * to end of line, horizontal moves…), in the parser's ground state, on the normal
 * screen with no scroll region. Plain output changes only cells, the cursor and
 * the current colours; it changes no mode, margin, tab stop, charset or saved
 * cursor, and it moves the cursor up never and down only by line feeds and wraps.
 * Cut the run right after a LF, such that the rest of the run has a CR in its first
 * line and at least K = scrollback + 2*rows + 1 line feeds. After that CR both
 * timelines (with and without the part before the cut) have the cursor in column
 * 0; after rows-1 more line feeds both have it on the bottom row; from there every
 * line feed scrolls one blank line in, and after scrollback + rows of them every
 * line of the buffer was created blank and written identically in both. So the
 * part before the cut can be dropped, provided the colours it set are replayed:
 * its SGR sequences from the last full reset on (the "summary").
 *
 * The condenser holds the current plain run (at most CONDENSER_MAX_HOLD_BYTES),
 * drops what a cut allows, and passes everything else through in order. drain()
 * passes on what it holds; callers drain before any query, resize or dispose.
 */

/** Held bytes beyond this are passed on even without a cut (a huge line without LFs); bounds memory. */
export const CONDENSER_MAX_HOLD_BYTES = 1024 * 1024;
/** Dropping is tried once this much is held, so the cost of cutting is paid once per this many bytes, not per line. */
export const CONDENSER_TRIM_BYTES = 256 * 1024;
/** A summary of SGRs longer than this is not worth keeping (an application that never resets colours): no drop. */
const MAX_SUMMARY_BYTES = 4096;
/** An escape sequence longer than this is no SGR worth summarising: the run ends. */
const MAX_SGR_BYTES = 128;

/** EL, ECH, CHA, CUF, CUB, ICH, DCH, HPA, HPR (final bytes, no prefix or intermediate). */
const IN_LINE_FINALS: readonly number[] = [0x4b, 0x58, 0x47, 0x43, 0x44, 0x40, 0x50, 0x60, 0x61];

const ESC = 0x1b;

/** Whether the SGR whose parameters start at `from` in `bytes` begins with a full reset (empty or 0 first parameter). */
function isResetSgr(bytes: ArrayLike<number>, from: number): boolean {
  for (let i = from; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x3b || b === 0x6d) return true; // ';' or the final 'm': the first parameter was 0s or empty
    if (b !== 0x30) return false; // another digit, or ':' (a sub-parameter: not a plain reset)
  }
  return false;
}
const LF = 0x0a;
const CR = 0x0d;
const TAB = 0x09;

const enum State {
  Ground,
  Escape,
  Csi,
  /** OSC, DCS, SOS, PM, APC: skipped up to BEL or ST. */
  String,
}

/** Counters of an OutputCondenser, for measurements and tests. */
export interface CondenserStats {
  /** Bytes received. */
  inBytes: number;
  /** Bytes dropped (never parsed). */
  droppedBytes: number;
}

/** Passes a terminal output stream on to `sink`, minus what provably cannot show (see the file comment). */
export class OutputCondenser {
  /** Stream offset of the next byte to arrive. */
  private pos = 0;
  /** Received and not yet passed on: the stream from `pendingStart` to `pos`, after `summary`. */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private pendingStart = 0;
  /** SGRs that stand for dropped output, passed on before `pending`. */
  private summary: Buffer | null = null;
  /** Start of the droppable run; null when the output is not plain (or condensing is off). */
  private runStart: number | null = null;
  /**
   * SGRs in the held run from index `sgrHead` on: stream offsets of their start and
   * end; a start stored as -(start + 1) marks an SGR that resets all attributes.
   */
  private sgrStart: number[] = [];
  private sgrEnd: number[] = [];
  private sgrHead = 0;
  /** Stream offsets just past the last K+1 line feeds of the run, and whether their line had a CR. */
  private lfEnds: Float64Array = new Float64Array(1);
  private lfHadCr: Uint8Array = new Uint8Array(1);
  private lfCount = 0;
  private lfHead = 0;
  private crInLine = false;
  /** Latest cut allowed by the rule in the file comment, or -1. */
  private cut = -1;
  private keepLines = 0;

  private state: State = State.Ground;
  private prevByte = 0;
  /** The escape sequence being read (only its first MAX_SGR_BYTES bytes). */
  private seq: number[] = [];
  private seqStart = 0;
  private seqIsSgr = false;
  private seqTruncated = false;
  private rows = 0;
  /** DECSTBM may have set margins (conservative: only a full-screen DECSTBM on the normal screen clears it). */
  private marginsMaybeSet = false;
  private altScreen = false;

  readonly stats: CondenserStats = { inBytes: 0, droppedBytes: 0 };

  constructor(
    private readonly sink: (data: Uint8Array) => void,
    rows: number,
    scrollbackLines: number,
    /** Tests pass small values to exercise trimming and the hold limit. */
    private readonly limits: { trimBytes: number; maxHoldBytes: number } = {
      trimBytes: CONDENSER_TRIM_BYTES,
      maxHoldBytes: CONDENSER_MAX_HOLD_BYTES,
    },
  ) {
    this.setSize(rows, scrollbackLines);
  }

  /** New geometry. Drains first: what is held was counted for the old size. */
  setSize(rows: number, scrollbackLines: number): void {
    this.drain();
    this.rows = rows;
    this.keepLines = scrollbackLines + 2 * rows + 1;
    this.lfEnds = new Float64Array(this.keepLines + 1);
    this.lfHadCr = new Uint8Array(this.keepLines + 1);
    this.resetRun();
  }

  private get condensing(): boolean {
    return !this.marginsMaybeSet && !this.altScreen;
  }

  push(data: Uint8Array): void {
    this.stats.inBytes += data.length;
    const base = this.pos;
    let segStart = 0;
    for (let i = 0; i < data.length; i++) {
      if (this.state === State.Ground && this.runStart !== null) {
        // The hot path of a flood: plain ASCII inside a run. Stops at anything else.
        i = this.scanPlain(data, i, base);
        if (i >= data.length) break;
      }
      const b = data[i]!;
      if (this.prevByte === 0xc2 && b >= 0x80 && b <= 0x9f) {
        // A C1 control (UTF-8 encoded, as xterm decodes before parsing): acts in any state.
        this.c1(b, base + i);
      } else {
        switch (this.state) {
          case State.Ground:
            if ((b >= 0x20 && b < 0x7f) || b === CR || b === TAB || b >= 0x80) {
              if (this.runStart === null && this.condensing) {
                this.keep(data, segStart, i);
                segStart = i;
                this.passOn();
                this.runStart = base + i;
              }
              if (b === CR) this.crInLine = true;
            } else if (b === LF) {
              if (this.runStart !== null) this.lineFeed(base + i + 1);
            } else if (b === ESC) {
              this.startEscape(base + i);
            } else {
              // Other C0 controls (BS, VT, FF, SO, SI, BEL…) and DEL are not plain.
              this.endRun();
            }
            break;
          case State.Escape:
            this.escapeByte(b, base + i);
            break;
          case State.Csi:
            if (this.seq.length < MAX_SGR_BYTES) this.seq.push(b);
            else this.seqTruncated = true;
            if (b >= 0x40 && b <= 0x7e) {
              this.state = State.Ground;
              this.csiDone(b, base + i + 1);
            } else if (b === ESC) {
              this.endRun();
              this.startEscape(base + i);
            } else if (b === 0x18 || b === 0x1a) {
              this.state = State.Ground;
              this.endRun();
            } else if (!((b >= 0x30 && b <= 0x39) || b === 0x3b || b === 0x3a)) {
              // Private prefixes, intermediates, controls and non-ASCII inside the sequence: not an SGR.
              this.seqIsSgr = false;
            }
            break;
          case State.String:
            // ESC ends the string and starts an escape sequence (ESC \ is ST), as in xterm's parser.
            if (b === 0x07 || b === 0x18 || b === 0x1a) this.state = State.Ground;
            else if (b === ESC) this.startEscape(base + i);
            break;
        }
      }
      this.prevByte = b;
    }
    this.keep(data, segStart, data.length);
    this.pos = base + data.length;
    if (this.runStart === null) this.passOn();
    else if (this.pendingBytes >= this.limits.trimBytes) {
      this.trim();
      if (this.pendingBytes >= this.limits.maxHoldBytes) this.drain();
    }
  }

  /** Consumes plain ASCII from `i` on; returns the index of the first byte it did not take. */
  private scanPlain(data: Uint8Array, i: number, base: number): number {
    const n = data.length;
    const ends = this.lfEnds;
    const hadCr = this.lfHadCr;
    const size = ends.length;
    let head = this.lfHead;
    let count = this.lfCount;
    let cr = this.crInLine;
    let cut = this.cut;
    let j = i;
    for (; j < n; j++) {
      const b = data[j]!;
      if (b >= 0x20 && b < 0x7f) continue;
      if (b === LF) {
        // Same as lineFeed(), inlined.
        let slot = head + count;
        if (slot >= size) slot -= size;
        ends[slot] = base + j + 1;
        hadCr[slot] = cr ? 1 : 0;
        cr = false;
        if (count < size) count++;
        else if (++head === size) head = 0;
        if (count === size && hadCr[head + 1 === size ? 0 : head + 1] === 1) cut = ends[head]!;
        continue;
      }
      if (b === CR) {
        cr = true;
        continue;
      }
      if (b === TAB) continue;
      if (b === ESC && j + 2 < n && data[j + 1] === 0x5b) {
        // ESC [ params final, complete in this chunk: SGRs and in-line operations stay in the run.
        let k = j + 2;
        const limit = Math.min(n, j + MAX_SGR_BYTES);
        let c = data[k]!;
        while (k < limit && ((c >= 0x30 && c <= 0x39) || c === 0x3b || c === 0x3a)) c = data[++k]!;
        if (k < limit) {
          if (c === 0x6d) {
            this.recordSgr(base + j, base + k + 1, isResetSgr(data, j + 2));
            j = k;
            continue;
          }
          if (IN_LINE_FINALS.includes(c)) {
            j = k;
            continue;
          }
        }
      }
      break;
    }
    this.lfHead = head;
    this.lfCount = count;
    this.crInLine = cr;
    this.cut = cut;
    if (j > i) this.prevByte = data[j - 1]!;
    return j;
  }

  private startEscape(at: number): void {
    this.state = State.Escape;
    this.seq = [ESC];
    this.seqStart = at;
    this.seqIsSgr = false;
    this.seqTruncated = false;
  }

  private escapeByte(b: number, at: number): void {
    if (b === 0x5b) {
      this.state = State.Csi;
      this.seq.push(b);
      this.seqIsSgr = true;
    } else if (b === 0x5d || b === 0x50 || b === 0x58 || b === 0x5e || b === 0x5f) {
      this.state = State.String; // OSC, DCS, SOS, PM, APC
      this.endRun();
    } else if (b === ESC) {
      this.startEscape(at);
    } else if (b === 0x18 || b === 0x1a) {
      this.state = State.Ground;
      this.endRun();
    } else if (b < 0x20 || b === 0x7f) {
      // Executed (or ignored) without leaving the escape sequence.
      this.endRun();
    } else {
      this.seq.push(b);
      // 0x20..0x2f are intermediates (ESC ( 0 and the like): the sequence goes on to its final byte.
      if (b >= 0x30) {
        this.state = State.Ground;
        if (b === 0x63 && this.seq.length === 2) this.fullReset(); // RIS
      }
      this.endRun();
    }
  }

  /** C1 controls, which xterm acts on in any state: CSI, string starts, ST, or single controls. */
  private c1(b: number, at: number): void {
    this.endRun();
    if (b === 0x9b) {
      // CSI in its 8-bit form: read like ESC [ (for margins and modes), never kept in a run.
      this.startEscape(at);
      this.state = State.Csi;
      this.seq.push(0x5b);
      this.seqIsSgr = false;
      return;
    }
    if (b === 0x90 || b === 0x98 || b === 0x9d || b === 0x9e || b === 0x9f) this.state = State.String;
    else this.state = State.Ground;
  }

  /** Passes on everything held. The run goes on, but nothing before this point can be dropped any more. */
  drain(): void {
    this.trim();
    this.passOn();
    if (this.runStart !== null) this.runStart = this.pos;
  }

  private keep(data: Uint8Array, from: number, to: number): void {
    if (to <= from) return;
    this.pending.push(from === 0 && to === data.length ? data : data.subarray(from, to));
    this.pendingBytes += to - from;
  }

  private passOn(): void {
    const parts = this.summary ? [this.summary, ...this.pending] : this.pending;
    // One write: xterm's cost per write() call is high for small pieces.
    if (parts.length === 1) this.sink(parts[0]!);
    else if (parts.length > 1) this.sink(Buffer.concat(parts));
    this.summary = null;
    this.pendingStart += this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.sgrStart = [];
    this.sgrEnd = [];
    this.sgrHead = 0;
  }

  private lineFeed(end: number): void {
    const size = this.lfEnds.length;
    const slot = (this.lfHead + this.lfCount) % size;
    this.lfEnds[slot] = end;
    this.lfHadCr[slot] = this.crInLine ? 1 : 0;
    this.crInLine = false;
    if (this.lfCount < size) this.lfCount++;
    else this.lfHead = (this.lfHead + 1) % size;
    // Full ring: the oldest LF has keepLines LFs after it; the next line must contain a CR.
    if (this.lfCount === size && this.lfHadCr[(this.lfHead + 1) % size] === 1) this.cut = this.lfEnds[this.lfHead]!;
  }

  private csiDone(final: number, end: number): void {
    const seq = this.seq;
    if (this.seqIsSgr && !this.seqTruncated) {
      if (final === 0x6d) {
        if (this.runStart !== null) this.recordSgr(this.seqStart, end, isResetSgr(seq, 2));
        return;
      }
      // Operations confined to the cursor's line that leave no state behind (erase, insert or
      // delete characters, horizontal moves) are as plain as text: the run goes on.
      if (IN_LINE_FINALS.includes(final)) return;
    }
    this.endRun();
    const params = String.fromCharCode(...seq.slice(2, -1));
    if (this.seqTruncated) {
      this.marginsMaybeSet = true; // could not read it: assume the worst
    } else if (final === 0x72 && /^[0-9;]*$/.test(params)) {
      // DECSTBM; xterm treats a 0 or missing top as 1 and a 0, missing or too large bottom as the last row.
      const [top = '', bottom = ''] = params.split(';');
      const full = Number(top || 1) <= 1 && (Number(bottom || 0) === 0 || Number(bottom) >= this.rows);
      if (!full) this.marginsMaybeSet = true;
      else if (!this.altScreen) this.marginsMaybeSet = false;
    } else if ((final === 0x68 || final === 0x6c) && params.startsWith('?')) {
      const modes = params.slice(1).split(';');
      if (modes.some((m) => m === '47' || m === '1047' || m === '1049')) this.altScreen = final === 0x68;
    }
  }

  private fullReset(): void {
    this.marginsMaybeSet = false;
    this.altScreen = false;
  }

  /** The output stopped being plain: what is held can no longer be dropped. */
  private endRun(): void {
    if (this.runStart === null) return;
    this.runStart = null;
    this.resetRun();
  }

  private resetRun(): void {
    this.lfCount = 0;
    this.lfHead = 0;
    this.cut = -1;
    this.crInLine = false;
  }

  private recordSgr(start: number, end: number, reset: boolean): void {
    this.sgrStart.push(reset ? -(start + 1) : start);
    this.sgrEnd.push(end);
  }

  /** A copy of held stream bytes [from, to). */
  private copyHeld(from: number, to: number): Buffer {
    const out = Buffer.allocUnsafe(to - from);
    let offset = this.pendingStart;
    let filled = 0;
    for (const chunk of this.pending) {
      const end = offset + chunk.length;
      if (end > from && offset < to) {
        const a = Math.max(from, offset) - offset;
        const b = Math.min(to, end) - offset;
        out.set(chunk.subarray(a, b), filled);
        filled += b - a;
      }
      if (end >= to) break;
      offset = end;
    }
    return out;
  }

  /** Drops the held output before the latest allowed cut, keeping its colours in the summary. */
  private trim(): void {
    const runStart = this.runStart;
    const cut = this.cut;
    if (runStart === null || cut <= this.pendingStart || cut <= runStart) return;
    // Bytes before the run (held since it started) are never dropped: the run starts a pending list.
    let dropped = 0;
    let resetAt = -1;
    const starts = this.sgrStart;
    const ends = this.sgrEnd;
    let n = this.sgrHead;
    for (; n < ends.length && ends[n]! <= cut; n++) if (starts[n]! < 0) resetAt = n;
    const parts: Buffer[] = resetAt < 0 && this.summary ? [this.summary] : [];
    let summaryBytes = parts.length > 0 ? parts[0]!.length : 0;
    for (let i = resetAt < 0 ? this.sgrHead : resetAt; i < n; i++) {
      const start = starts[i]! < 0 ? -starts[i]! - 1 : starts[i]!;
      summaryBytes += ends[i]! - start;
      if (summaryBytes > MAX_SUMMARY_BYTES) return;
      parts.push(this.copyHeld(start, ends[i]!));
    }
    const summary = parts.length > 0 ? Buffer.concat(parts) : null;
    this.sgrHead = n;
    if (n > 4096 && n > ends.length / 2) {
      // Compact now and then instead of shifting the arrays on every trim.
      this.sgrStart = starts.slice(n);
      this.sgrEnd = ends.slice(n);
      this.sgrHead = 0;
    }
    let toDrop = cut - this.pendingStart;
    while (toDrop > 0) {
      const chunk = this.pending[0]!;
      if (chunk.length <= toDrop) {
        this.pending.shift();
        toDrop -= chunk.length;
        dropped += chunk.length;
      } else {
        this.pending[0] = chunk.subarray(toDrop);
        dropped += toDrop;
        toDrop = 0;
      }
    }
    this.pendingBytes -= dropped;
    this.pendingStart = cut;
    this.summary = summary;
    this.stats.droppedBytes += dropped;
  }
}
