/**
 * Raw protocol requests for tests that talk to the daemon's socket directly.
 * No dependencies, so the load wrapper (load.mjs, run as a daemon) can use it too.
 */

/** A complete, valid attach request (background by default); `over` replaces fields. */
export function attachRequest(over = {}) {
  return {
    type: 'attach',
    name: 'main',
    force: false,
    background: true,
    ttlMs: null,
    cmd: null,
    dir: null,
    rows: 24,
    cols: 80,
    env: {},
    clientPid: process.pid,
    hooks: {},
    ...over,
  };
}
