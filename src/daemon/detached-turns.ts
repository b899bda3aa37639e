/**
 * Detached sessions that flood output take turns: at most one of them is read at
 * full speed, the others are paused (their programs wait in write()) until theirs.
 *
 * Why: a detached session's output only feeds its restore screen, yet read at full
 * speed it keeps its program runnable. Each session is its own scheduler group
 * (setsid, and Linux autogroups by session), so 20 detached `yes` took 20 shares
 * of a 2-core machine: `node -e 0` took 455 ms and `tshpool list` 622 ms, and an
 * attached shell in the same daemon echoed in 19 ms. tmux stays responsive there
 * by accident (its one server thread is the bottleneck, its panes' programs
 * wait); here it is on purpose, and bounded:
 *
 * - Nothing is held while detached sessions together read less than
 *   TURN_HEAVY_TOTAL_BYTES per TURN_WINDOW_MS (2.5 MB/s), nor a session that
 *   reads less than TURN_BUSY_BYTES per window (160 KB/s): prompts, builds and
 *   logs go at their own pace. The total matters, not each session's rate: 20
 *   floods sharing the CPU each read only ~1.5 MB/s.
 * - Past that, a busy session becomes the flooder if there is none (a single
 *   detached flood drains at full speed), else it is paused and queued.
 * - The flooder passes the turn after TURN_SLICE_MS when someone waits, or at
 *   once after a quiet window.
 * - Sessions with a client or a viewer take no part (Session calls leave()), and
 *   a session whose program exited is never held (Session ignores the hold then).
 *
 * Total detached throughput stays that of one flood; what changes is that the
 * other flooders sleep instead of competing for the CPU the user types on.
 */

/** Detached sessions together may read this much per window before turns start. */
export const TURN_HEAVY_TOTAL_BYTES = 256 * 1024;
/** A session reading less than this per window never takes part in turns. */
export const TURN_BUSY_BYTES = 16 * 1024;
/** The window over which a detached session's output rate is judged. */
export const TURN_WINDOW_MS = 100;
/** How long the flooder reads before passing the turn to a waiting one. */
export const TURN_SLICE_MS = 200;

/** A session as the turns see it: it stops or restarts reading its pty. */
export interface TurnTaker {
  readonly name: string;
  setTurnHold(hold: boolean): void;
}

export class DetachedTurns {
  /** Bytes read by each detached session in the current window. */
  private readonly windowBytes = new Map<TurnTaker, number>();
  /** Their sum. */
  private totalBytes = 0;
  private flooder: TurnTaker | null = null;
  private flooderSince = 0;
  /** Paused flooders, first to resume first. */
  private readonly waiting: TurnTaker[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    /** Config `detached_flood_turns`, read on every chunk so a reload applies at once. */
    private readonly enabled: () => boolean = () => true,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A session with no client and no viewer read `bytes` from its pty. */
  onOutput(taker: TurnTaker, bytes: number): void {
    if (!this.enabled()) {
      if (this.flooder || this.waiting.length > 0) this.releaseAll();
      return;
    }
    const total = (this.windowBytes.get(taker) ?? 0) + bytes;
    this.windowBytes.set(taker, total);
    this.totalBytes += bytes;
    this.arm();
    if (total < TURN_BUSY_BYTES || this.totalBytes < TURN_HEAVY_TOTAL_BYTES) return;
    if (taker === this.flooder || this.waiting.includes(taker)) return;
    if (this.flooder === null) {
      this.flooder = taker;
      this.flooderSince = this.now();
      return;
    }
    this.waiting.push(taker);
    taker.setTurnHold(true);
  }

  /** `taker` got a client or viewer, or ended: it reads freely again and no longer counts. */
  leave(taker: TurnTaker): void {
    this.windowBytes.delete(taker);
    const at = this.waiting.indexOf(taker);
    if (at >= 0) {
      this.waiting.splice(at, 1);
      taker.setTurnHold(false);
    }
    if (this.flooder === taker) {
      this.flooder = null;
      this.passTurn();
    }
  }

  /** The flooder reading now and the paused ones in turn order (`tshpool status`, tests). */
  get current(): TurnTaker | null {
    return this.flooder;
  }

  get queued(): readonly TurnTaker[] {
    return this.waiting;
  }

  /** Ends a window: the flooder yields if its slice is over and someone waits, or if it went quiet. */
  tick(): void {
    this.timer = null;
    const flooder = this.flooder;
    if (flooder) {
      const quiet = !this.windowBytes.has(flooder);
      if (quiet) this.flooder = null;
      else if (this.waiting.length > 0 && this.now() - this.flooderSince >= TURN_SLICE_MS) {
        this.flooder = null;
        this.waiting.push(flooder);
        flooder.setTurnHold(true);
      }
    }
    this.windowBytes.clear();
    this.totalBytes = 0;
    this.passTurn();
    if (this.flooder || this.waiting.length > 0) this.arm();
  }

  private passTurn(): void {
    if (this.flooder) return;
    const next = this.waiting.shift();
    if (!next) return;
    this.flooder = next;
    this.flooderSince = this.now();
    next.setTurnHold(false);
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.tick(), TURN_WINDOW_MS);
    this.timer.unref();
  }

  dispose(): void {
    this.releaseAll();
  }

  /** Everyone reads freely and nothing is counted; turns start afresh on the next heavy window. */
  private releaseAll(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const taker of this.waiting.splice(0)) taker.setTurnHold(false);
    this.flooder = null;
    this.windowBytes.clear();
    this.totalBytes = 0;
  }
}
