/**
 * Finds keybindings in the stream of bytes typed into an attached client. Bytes
 * that cannot be part of a binding pass through at once; a partial match is held
 * (also across reads) until it completes — then its action fires and the bytes
 * are swallowed — or fails, and then the held bytes pass through unchanged.
 */
import { parseBinding } from './keys.js';
import { DEFAULT_DETACH_BINDING } from '../consts.js';

/** What a keybinding does (config `[[keybinding]] action`). */
export type KeybindingAction = 'detach' | 'noop';
/** A config `[[keybinding]]`: a key sequence and its action. */
export interface Keybinding {
  binding: string;
  action: KeybindingAction;
}

interface Compiled {
  bytes: Buffer;
  action: KeybindingAction;
}

export interface MatchResult {
  /** Bytes to send to the shell, in order. */
  output: Buffer;
  /** Actions triggered, in order; processing stops at a detach. */
  actions: KeybindingAction[];
}

/** Ctrl-C: how a viewer leaves (its keystrokes never reach the session). */
const CTRL_C = 0x03;

/** Whether a read-only viewer's keys ask to leave: the detach binding, or Ctrl-C. */
export function viewerLeaves({ output, actions }: MatchResult): boolean {
  return actions.includes('detach') || output.includes(CTRL_C);
}

export class KeybindingMatcher {
  private readonly bindings: Compiled[];
  private held: number[] = [];

  /** Configured bindings replace the default detach binding (as in shpool). */
  constructor(configured: readonly Keybinding[]) {
    const list = configured.length > 0 ? configured : [{ binding: DEFAULT_DETACH_BINDING, action: 'detach' as const }];
    this.bindings = list.map((b) => ({ bytes: parseBinding(b.binding), action: b.action }));
  }

  private isPrefix(seq: number[]): boolean {
    return this.bindings.some((b) => b.bytes.length >= seq.length && seq.every((x, i) => b.bytes[i] === x));
  }

  private complete(seq: number[]): Compiled | undefined {
    return this.bindings.find((b) => b.bytes.length === seq.length && seq.every((x, i) => b.bytes[i] === x));
  }

  push(input: Buffer): MatchResult {
    const actions: KeybindingAction[] = [];
    // Fast path: nothing held and no byte could start a binding.
    if (this.held.length === 0 && !this.bindings.some((b) => input.includes(b.bytes[0]!))) {
      return { output: input, actions };
    }
    const out: number[] = [];
    for (const byte of input) {
      this.held.push(byte);
      for (;;) {
        const done = this.complete(this.held);
        if (done) {
          actions.push(done.action);
          this.held = [];
          // Whatever was typed after a detach is not for the shell.
          if (done.action === 'detach') return { output: Buffer.from(out), actions };
          break;
        }
        if (this.held.length === 0 || this.isPrefix(this.held)) break;
        // Not a binding: release the oldest byte and see whether the rest still starts one.
        out.push(this.held.shift()!);
      }
    }
    return { output: Buffer.from(out), actions };
  }
}
