/**
 * Raw mode that passes bytes through untouched: Node's setRawMode keeps output
 * processing (ONLCR) on; see native/tty.c for why it must go. Without the addon,
 * `stty -opost` does the same (a few ms more at attach).
 */
import { createRequire } from 'node:module';
import { closeSync, openSync } from 'node:fs';
import { isatty } from 'node:tty';
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

/**
 * Points this process's stdin, stdout and stderr at /dev/null where they were a
 * terminal that hung up. Node restores the terminal's settings at exit and aborts
 * (an assertion, SIGABRT) when that fails with EIO; it skips descriptors that no
 * longer refer to the file they did at start-up. Only for a process about to exit.
 */
export function releaseHungUpTerminal(): void {
  for (const fd of hungUpStdio()) {
    try {
      closeSync(fd);
      // The lowest free descriptor: `fd` again.
      openSync('/dev/null', 'r+');
    } catch {
      // Nothing more can be done; at worst Node's exit check aborts.
    }
  }
}

/** Which of stdin, stdout and stderr were a terminal at start-up and are a hung-up one now (isatty() fails with EIO). */
export function hungUpStdio(): number[] {
  const wasTty = [process.stdin.isTTY, process.stdout.isTTY, process.stderr.isTTY];
  return [0, 1, 2].filter((fd) => wasTty[fd] === true && !isatty(fd));
}
