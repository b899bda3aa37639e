/**
 * tshpool's small native addon (native/*.c, built by node-gyp on install):
 * SO_PEERCRED and terminal output settings, which Node does not expose. Every
 * user of it has a fallback for when it could not be built.
 */
import { createRequire } from 'node:module';

export interface NativeAddon {
  peerCred(fd: number): { pid: number; uid: number; gid: number };
  disableOutputProcessing(fd: number): void;
  /** Added with issue 15: absent from an addon built before it (then the caller falls back). */
  peerHungUp?(fd: number): boolean;
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
