/**
 * Raw mode that passes bytes through untouched: Node's setRawMode keeps output
 * processing (ONLCR) on; see native/tty.c for why it must go. Without the addon,
 * `stty -opost` does the same (a few ms more at attach).
 */
import { createRequire } from 'node:module';
import { nativeAddon } from './native.js';

/** Turns off output processing on the terminal open as `fd` (stdin's terminal). Best effort. */
export function disableOutputProcessing(fd: number): void {
  const addon = nativeAddon();
  try {
    if (addon) {
      addon.disableOutputProcessing(fd);
      return;
    }
  } catch {
    // fall through to stty
  }
  // child_process is loaded only here: ~4 ms of every attach's start-up when the addon is there.
  const { spawnSync } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  spawnSync('stty', ['-opost'], { stdio: [fd, 'ignore', 'ignore'] });
}
