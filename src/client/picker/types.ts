/**
 * The picker's contract with its caller. The picker is a UI only: it knows
 * nothing of the daemon or the protocol, gets its data through a `PickerSource`
 * and returns the user's choice as a value, so the widget library behind it
 * (blessed today) can be swapped without touching `choose`.
 */

/** One row of the picker: a session as the user needs to see it. */
export interface PickerSession {
  name: string;
  /** A terminal is attached to it right now (Enter would have to take it over). */
  attached: boolean;
  /** Read-only viewers watching it. */
  viewers: number;
  /** When it was created, ms since the Unix epoch. */
  startedAtMs: number;
  /** The latest moment something is known to have happened in it, ms since the epoch. */
  lastActivityMs: number;
  /** What runs in it: its shell or its command, as words joined by spaces. */
  command: string;
}

/**
 * What the user picked. `create` asks the caller to create session `name` and
 * attach to it; `force` (attach only) means "take it over from the terminal
 * attached to it", which the user confirmed.
 */
export type PickerChoice = { action: 'attach' | 'view' | 'create'; name: string; force?: boolean } | null;

/** Notifications a source sends while the picker is open. */
export interface PickerWatcher {
  /** The sessions changed somewhere: fetch them again. */
  changed(): void;
  /** The source can no longer report changes (its daemon went away...); `reason` is for the user. */
  lost(reason: string): void;
}

/** Where the picker gets its data and performs its one side effect (kill). */
export interface PickerSource {
  /** The current sessions. Rejects with an Error whose message is for the user. */
  list(): Promise<PickerSession[]>;
  /** What session `name` shows on its screen now, as plain text lines. */
  preview(name: string): Promise<string>;
  /** Ends session `name`. Rejects with an Error whose message is for the user. */
  kill(name: string): Promise<void>;
  /** Starts reporting changes; returns a function that stops it. */
  watch(watcher: PickerWatcher): () => void;
  /** Why `name` cannot name a new session, or null when it can. */
  nameProblem(name: string): string | null;
}

export interface PickerOptions {
  /** false: no colours at all (NO_COLOR); selection and emphasis use inverse and bold. */
  color: boolean;
  /** Sessions already fetched, shown at once instead of an empty list. */
  initial?: PickerSession[];
  /**
   * The session this terminal runs inside, if any: attaching to or viewing it from
   * here would feed its output back into itself, so the picker refuses.
   */
  current?: string | null;
}
