/**
 * Raw mode that passes bytes through untouched: Node's setRawMode keeps output
 * processing (ONLCR) on; see native/tty.c for why it must go. Without the addon,
 * `stty -opost` does the same (a few ms more at attach).
 */
import { spawnSync } from 'node:child_process';
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
  spawnSync('stty', ['-opost'], { stdio: [fd, 'ignore', 'ignore'] });
}
