/**
 * The wire protocol between the daemon and tshpool-holder (native/holder.c, whose
 * header comment is the other copy of this layout: change both together).
 *
 *   frame   = u32 length (little-endian; counts the bytes after it) | u8 type | payload
 *   string  = u32 length | UTF-8 bytes        strings = u32 count | string * count
 *   integers little-endian; a frame that carries a file descriptor sends it as
 *   SCM_RIGHTS on its first byte, so fds arrive in frame order: each HELD or
 *   SPAWNED frame takes the next received fd.
 *
 *   daemon → holder                                         holder → daemon
 *    1 HELLO     u32 version                                 64 WELCOME      u32 version, i32 holderPid, u32 sessionCount
 *    2 SPAWN     u32 reqId, string key, string file,         65 HELD         string key, i32 pid, u8 state (0 running,
 *                strings argv, strings env, string cwd,                       1 exited), i32 exitCode, i32 signal  + fd
 *                u16 cols, u16 rows                          66 END_OF_LIST
 *    3 FORGET    string key                                  67 SPAWNED      u32 reqId, string key, i32 pid  + fd
 *    4 KILL      string key, i32 signal, u8 group            68 SPAWN_FAILED u32 reqId, i32 errno, string message
 *    5 SHUTDOWN  u8 force                                    69 EXITED       string key, i32 pid, i32 exitCode, i32 signal
 *                                                            70 SUPERSEDED
 *                                                            71 ERROR        u32 reqId, string message (then it closes)
 */
import { assertNever } from '../../protocol/messages.js';

/** Bumped with native/holder.c's PROTOCOL_VERSION on any incompatible change. */
export const HOLDER_PROTOCOL_VERSION = 1;
/** The holder refuses larger frames; a reply larger than this is a broken holder. */
export const MAX_HOLDER_FRAME_BYTES = 1024 * 1024;
const LENGTH_BYTES = 4;

const RequestType = { hello: 1, spawn: 2, forget: 3, kill: 4, shutdown: 5 } as const;
const ReplyType = { welcome: 64, held: 65, endOfList: 66, spawned: 67, spawnFailed: 68, exited: 69, superseded: 70, error: 71 } as const;

/** What the daemon asks of the holder. */
export type HolderRequest =
  /** First frame of a connection. Replies welcome, one held per session, endOfList; supersedes the previous daemon. */
  | { type: 'hello'; version: number }
  /** Forks `file` with `argv`/`env` in `cwd` on a new pty. Replies spawned (+ master fd) or spawnFailed. */
  | { type: 'spawn'; reqId: number; key: string; file: string; argv: string[]; env: string[]; cwd: string; cols: number; rows: number }
  /** The session is over: the holder closes its master copy and drops the entry (and its status). No reply. */
  | { type: 'forget'; key: string }
  /** Signals the session's shell (and its process group with `group`) unless it was reaped already. No reply. */
  | { type: 'kill'; key: string; signal: number; group: boolean }
  /** The daemon stops for good: the holder exits once it holds nothing, unless a daemon says hello meanwhile (`force`: hangs up every session now). */
  | { type: 'shutdown'; force: boolean };

/** How a held session stands: running, or exited with the status the holder collected. */
export type HeldState = { state: 'running' } | { state: 'exited'; exitCode: number; signal: number };

/** What the holder tells the daemon. `fd` is a new descriptor in this process, owned by the receiver. */
export type HolderReply =
  | { type: 'welcome'; version: number; holderPid: number; sessionCount: number }
  /** One held session (after welcome, or later for a spawn whose requester was superseded). */
  | ({ type: 'held'; key: string; pid: number; fd: number } & HeldState)
  | { type: 'endOfList' }
  | { type: 'spawned'; reqId: number; key: string; pid: number; fd: number }
  | { type: 'spawnFailed'; reqId: number; errno: number; message: string }
  /** The shell was reaped; exitCode is 0 when a signal killed it (as node-pty reports it). */
  | { type: 'exited'; key: string; pid: number; exitCode: number; signal: number }
  /** Another daemon said hello: this connection closes next. */
  | { type: 'superseded' }
  | { type: 'error'; reqId: number; message: string };

export class HolderProtocolError extends Error {
  override name = 'HolderProtocolError';
}

class Writer {
  private readonly parts: Buffer[] = [];
  u8(v: number): this {
    this.parts.push(Buffer.of(v & 0xff));
    return this;
  }
  u16(v: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeUInt16LE(v);
    this.parts.push(b);
    return this;
  }
  u32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(v >>> 0);
    this.parts.push(b);
    return this;
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.u32(b.length).bytes(b);
  }
  strs(list: string[]): this {
    this.u32(list.length);
    for (const s of list) this.str(s);
    return this;
  }
  bytes(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  frame(type: number): Buffer {
    const body = Buffer.concat([Buffer.of(type), ...this.parts]);
    if (body.length > MAX_HOLDER_FRAME_BYTES) throw new HolderProtocolError(`request of ${body.length} bytes exceeds the holder's limit of ${MAX_HOLDER_FRAME_BYTES}`);
    const head = Buffer.allocUnsafe(LENGTH_BYTES);
    head.writeUInt32LE(body.length);
    return Buffer.concat([head, body]);
  }
}

export function encodeHolderRequest(req: HolderRequest): Buffer {
  const w = new Writer();
  switch (req.type) {
    case 'hello':
      return w.u32(req.version).frame(RequestType.hello);
    case 'spawn':
      return w.u32(req.reqId).str(req.key).str(req.file).strs(req.argv).strs(req.env).str(req.cwd).u16(req.cols).u16(req.rows).frame(RequestType.spawn);
    case 'forget':
      return w.str(req.key).frame(RequestType.forget);
    case 'kill':
      return w.str(req.key).u32(req.signal).u8(req.group ? 1 : 0).frame(RequestType.kill);
    case 'shutdown':
      return w.u8(req.force ? 1 : 0).frame(RequestType.shutdown);
    default:
      return assertNever(req);
  }
}

class Reader {
  private at = 0;
  constructor(private readonly b: Buffer) {}
  private need(n: number): number {
    if (this.at + n > this.b.length) throw new HolderProtocolError('holder reply shorter than its fields');
    const at = this.at;
    this.at += n;
    return at;
  }
  u8(): number {
    return this.b.readUInt8(this.need(1));
  }
  u32(): number {
    return this.b.readUInt32LE(this.need(4));
  }
  i32(): number {
    return this.b.readInt32LE(this.need(4));
  }
  str(): string {
    const len = this.u32();
    const at = this.need(len);
    return this.b.toString('utf8', at, at + len);
  }
}

/** Takes the next received fd for a frame that carries one. */
type TakeFd = () => number;

function decodeReply(type: number, r: Reader, takeFd: TakeFd): HolderReply {
  switch (type) {
    case ReplyType.welcome:
      return { type: 'welcome', version: r.u32(), holderPid: r.i32(), sessionCount: r.u32() };
    case ReplyType.held: {
      const key = r.str();
      const pid = r.i32();
      const exited = r.u8() === 1;
      const exitCode = r.i32();
      const signal = r.i32();
      const state: HeldState = exited ? { state: 'exited', exitCode, signal } : { state: 'running' };
      return { type: 'held', key, pid, ...state, fd: takeFd() };
    }
    case ReplyType.endOfList:
      return { type: 'endOfList' };
    case ReplyType.spawned:
      return { type: 'spawned', reqId: r.u32(), key: r.str(), pid: r.i32(), fd: takeFd() };
    case ReplyType.spawnFailed:
      return { type: 'spawnFailed', reqId: r.u32(), errno: r.i32(), message: r.str() };
    case ReplyType.exited:
      return { type: 'exited', key: r.str(), pid: r.i32(), exitCode: r.i32(), signal: r.i32() };
    case ReplyType.superseded:
      return { type: 'superseded' };
    case ReplyType.error:
      return { type: 'error', reqId: r.u32(), message: r.str() };
    default:
      throw new HolderProtocolError(`unknown holder reply type ${type}`);
  }
}

/**
 * Incremental decoder of the holder's replies: push each received chunk with the
 * fds that came with it. Throws HolderProtocolError on the first malformed frame;
 * the caller then closes the connection and `dispose()`s the decoder, which closes
 * the fds no frame claimed.
 */
export class HolderReplyDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private readonly fds: number[] = [];

  constructor(private readonly closeFd: (fd: number) => void) {}

  push(chunk: Buffer, fds: readonly number[]): HolderReply[] {
    this.fds.push(...fds);
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const replies: HolderReply[] = [];
    let at = 0;
    while (this.pending.length - at >= LENGTH_BYTES) {
      const len = this.pending.readUInt32LE(at);
      if (len === 0 || len > MAX_HOLDER_FRAME_BYTES) throw new HolderProtocolError(`holder frame of ${len} bytes (limit ${MAX_HOLDER_FRAME_BYTES})`);
      if (this.pending.length - at - LENGTH_BYTES < len) break;
      const body = this.pending.subarray(at + LENGTH_BYTES, at + LENGTH_BYTES + len);
      at += LENGTH_BYTES + len;
      try {
        replies.push(decodeReply(body[0]!, new Reader(body.subarray(1)), () => this.takeFd()));
      } catch (err) {
        // The replies decoded so far are never handed out: their fds would leak.
        for (const reply of replies) if ('fd' in reply) this.closeFd(reply.fd);
        throw err;
      }
    }
    this.pending = this.pending.subarray(at);
    return replies;
  }

  private takeFd(): number {
    const fd = this.fds.shift();
    if (fd === undefined) throw new HolderProtocolError('holder frame announced a file descriptor that did not arrive');
    return fd;
  }

  /** Closes every received fd no frame claimed. */
  dispose(): void {
    for (const fd of this.fds.splice(0)) this.closeFd(fd);
  }
}
