/**
 * tshpool's small native addon (native/*.c, built by node-gyp on install):
 * SO_PEERCRED, terminal output settings, pty window sizes and a socket that
 * receives file descriptors, which Node does not expose. Every user of it has a
 * fallback for when it could not be built.
 */
import { createRequire } from 'node:module';

/** An open native channel (native/holder-channel.c); opaque to JS. */
export type NativeChannel = { readonly __nativeChannel: unique symbol };

export interface NativeAddon {
  peerCred(fd: number): { pid: number; uid: number; gid: number };
  disableOutputProcessing(fd: number): void;
  /** Added with issue 15: absent from an addon built before it (then the caller falls back). */
  peerHungUp?(fd: number): boolean;
  /** TIOCSWINSZ on a pty master the daemon did not open itself. */
  setWindowSize(fd: number, cols: number, rows: number): void;
  /** tcgetpgrp: the terminal's foreground process group. */
  foregroundProcessGroup(fd: number): number;
  setNonBlocking(fd: number, on: boolean): void;
  /** Connects to a Unix socket and reads it on a native thread, with SCM_RIGHTS fds; see native/holder-channel.c. */
  channelOpen(path: string, onEvent: (kind: number, a: unknown, b: unknown) => void): NativeChannel;
  /** Bytes the socket took now (0 when full); throws on errors other than a full socket. */
  channelSend(channel: NativeChannel, data: Buffer): number;
  /** Shuts the socket down; the end event follows. */
  channelClose(channel: NativeChannel): void;
  channelRef(channel: NativeChannel, ref: boolean): void;
}

let addon: NativeAddon | null = null;
let loadError: string | null = null;
try {
  addon = createRequire(import.meta.url)('../../build/Release/tshpool_native.node') as NativeAddon;
} catch (err) {
  loadError = (err as Error).message;
}

/** The addon, or null when it is not built. */
export function nativeAddon(): NativeAddon | null {
  return addon;
}

/** Why the addon is unavailable, or null when it loaded. */
export function nativeAddonProblem(): string | null {
  return addon ? null : `native addon not loaded (${loadError ?? 'unknown reason'})`;
}
