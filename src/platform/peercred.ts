/**
 * Who is on the other end of a connection (SO_PEERCRED). When the addon could not
 * be built the daemon still runs, protected by its 0700 directory and 0600 socket
 * only, and says so in its log.
 */
import type { Socket } from 'node:net';
import { nativeAddon, nativeAddonProblem } from './native.js';

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** Why peer checks are unavailable, or null when they work. */
export function peerCredUnavailable(): string | null {
  const problem = nativeAddonProblem();
  return problem ? `peer credential check unavailable: ${problem}` : null;
}

function socketFd(socket: Socket): number | null {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

/** The peer's credentials, or null when they cannot be known (no addon, no fd). */
export function peerCred(socket: Socket): PeerCred | null {
  const fd = socketFd(socket);
  const addon = nativeAddon();
  if (!addon || fd === null) return null;
  return addon.peerCred(fd);
}

/**
 * Whether the peer closed its end, even while we are not reading (poll with
 * POLLRDHUP); null when that cannot be known (no addon, no fd).
 */
export function peerHungUp(socket: Socket): boolean | null {
  const fd = socketFd(socket);
  const addon = nativeAddon();
  if (!addon?.peerHungUp || fd === null) return null;
  return addon.peerHungUp(fd);
}
