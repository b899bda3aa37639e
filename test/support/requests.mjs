/**
 * Raw protocol requests and frames for tests that talk to the daemon's socket directly.
 * No dependencies, so the load wrapper (load.mjs, run as a daemon) can use it too.
 */

/** Frame kinds of the tshpool socket: kind byte, u32 big-endian length, payload. */
export const FRAME = { CONTROL: 0x01, DATA: 0x02 };

/** One frame; a non-Buffer payload is sent as a string, or as JSON. */
export function encodeFrame(kind, payload) {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
  const head = Buffer.alloc(5);
  head.writeUInt8(kind, 0);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

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
