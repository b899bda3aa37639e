/**
 * Who is on the other end of a connection (SO_PEERCRED, via the small native
 * addon in native/peercred.c). When the addon could not be built the daemon still
 * runs, protected by its 0700 directory and 0600 socket only, and says so in its log.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

type Addon = { peerCred(fd: number): PeerCred };

let addon: Addon | null = null;
let loadError: string | null = null;
try {
  addon = createRequire(import.meta.url)('../../build/Release/peercred.node') as Addon;
} catch (err) {
  loadError = (err as Error).message;
}

/** Why peer checks are unavailable, or null when they work. */
export function peerCredUnavailable(): string | null {
  return addon ? null : `peer credential addon not loaded (${loadError ?? 'unknown reason'})`;
}

/** The peer's credentials, or null when they cannot be known (no addon, no fd). */
export function peerCred(socket: Socket): PeerCred | null {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (!addon || typeof fd !== 'number' || fd < 0) return null;
  return addon.peerCred(fd);
}
