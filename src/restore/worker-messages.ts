/**
 * Messages between the daemon's main thread and the shared emulator worker
 * (engine-worker.ts). Engines are addressed by `id`; queries carry a `req` number
 * that their `result` echoes. The worker handles messages in order, and every query
 * runs after the writes sent before it (the ScreenEngine ordering rule), so a
 * result reflects exactly the bytes sent before the query.
 */
import type { EngineConfig } from './engine-backend.js';
import type { EngineSnapshotOptions } from './screen-engine.js';

/** Main thread → worker. */
export type ToWorker =
  /** Creates engine `id`. No reply. */
  | { t: 'create'; id: number; config: EngineConfig }
  /** Output for engine `id`; `data` is transferred. Replied to with `parsed` once parsed. */
  | { t: 'write'; id: number; data: ArrayBuffer }
  /** Resizes engine `id` after the writes before it. No reply. */
  | { t: 'resize'; id: number; cols: number; rows: number }
  /** Replied to with `result` (value: the snapshot string). */
  | { t: 'snapshot'; id: number; req: number; options: EngineSnapshotOptions }
  /** Replied to with `result` (value: the captured text). */
  | { t: 'capture'; id: number; req: number; scrollback: number; ansi: boolean }
  /** Drops engine `id`. No reply. */
  | { t: 'dispose'; id: number };

/** Worker → main thread. */
export type FromWorker =
  /** `bytes` of engine `id`'s output were parsed (one per `write`). */
  | { t: 'parsed'; id: number; bytes: number }
  /** Engine `id` answered a terminal query (bytes for the pty). */
  | { t: 'reply'; id: number; data: Uint8Array }
  /** The answer to query `req`: `value`, or `error` if it failed. */
  | { t: 'result'; req: number; value?: string; error?: string };

/** Makes a switch over a union exhaustive: adding a variant without a case fails to compile. */
export function assertNever(value: never): never {
  throw new Error(`unexpected message: ${JSON.stringify(value)}`);
}
