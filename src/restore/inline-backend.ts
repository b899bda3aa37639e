/**
 * Runs a ScreenEngine on the calling thread. Used when no worker is wanted (tests,
 * tools) and as the reference the worker backend must behave like.
 */
import type { EngineBackend, EngineConfig } from './engine-backend.js';
import { ScreenEngine, type EngineSnapshotOptions } from './screen-engine.js';

/** An EngineBackend whose ScreenEngine lives on the calling thread. */
export class InlineBackend implements EngineBackend {
  private engine: ScreenEngine | null;

  constructor(config: EngineConfig, onReply: (data: Buffer) => void) {
    this.engine = new ScreenEngine({ ...config, onReply });
  }

  write(batch: Buffer, parsed: () => void): void {
    this.engine?.write(batch, parsed);
  }

  resize(cols: number, rows: number): void {
    this.engine?.resize(cols, rows);
  }

  snapshot(options: EngineSnapshotOptions): Promise<string | null> {
    const engine = this.engine;
    if (!engine) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      engine.afterWrites(() => {
        try {
          resolve(engine.snapshot(options));
        } catch (err) {
          reject(new Error('serializing the screen', { cause: err }));
        }
      });
    });
  }

  capture(scrollback: number, ansi: boolean): Promise<string> {
    const engine = this.engine;
    if (!engine) return Promise.resolve('');
    return new Promise((resolve, reject) => {
      engine.afterWrites(() => {
        try {
          resolve(engine.capture(scrollback, ansi));
        } catch (err) {
          reject(new Error('capturing the screen', { cause: err }));
        }
      });
    });
  }

  dispose(): void {
    // xterm drops its queued callbacks on dispose; pending queries are settled by ScreenSpool.
    this.engine?.dispose();
    this.engine = null;
  }
}
