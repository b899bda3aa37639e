/**
 * Where a ScreenSpool's emulator runs: on the calling thread (InlineBackend) or in
 * the shared emulator worker (WorkerBackend). Both keep the ScreenEngine ordering
 * rule: each call applies after every write() made before it.
 */
import type { EngineSnapshotOptions, ScreenEngineOptions } from './screen-engine.js';

/** What an engine is created with, minus the reply callback (which cannot cross threads). */
export type EngineConfig = Omit<ScreenEngineOptions, 'onReply'>;

/** One emulator, wherever it runs. */
export interface EngineBackend {
  /** Hands a batch to the emulator; `parsed` runs once it is parsed (backlog accounting). The batch is not reused by the caller. */
  write(batch: Buffer, parsed: () => void): void;
  resize(cols: number, rows: number): void;
  /** null once disposed. */
  snapshot(options: EngineSnapshotOptions): Promise<string | null>;
  capture(scrollback: number, ansi: boolean): Promise<string>;
  dispose(): void;
}
