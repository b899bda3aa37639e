/**
 * A client's connection to the daemon: connect (starting the daemon if nothing
 * listens), say hello, then exchange control messages and terminal data.
 */
import { createConnection, type Socket } from 'node:net';
import { FrameDecoder, FrameKind, ProtocolError, encodeControl, encodeData } from '../protocol/codec.js';
import { PROTOCOL_VERSION, parseReply, type Reply, type Request } from '../protocol/messages.js';
import { checkSocketPathLength, ensureDirs, resolvePaths, type Paths } from '../paths.js';
import { VERSION } from '../version.js';
import { peerCred } from '../platform/peercred.js';
import type { DaemonLaunch } from './daemonize.js';
import { UserError } from './errors.js';

type ConnectError = NodeJS.ErrnoException & { code?: string };

/** A daemon that accepts but does not answer hello (wedged, or not ours) is given up on after this. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Refuses a socket served by another user before anything is sent on it: with a
 * --socket in a shared directory, someone else could be listening there to read
 * the environment and keystrokes we would send. (SO_PEERCRED; without the addon,
 * the directory's permissions are all there is.)
 */
function checkServer(socket: Socket, path: string): void {
  const uid = process.getuid!();
  const cred = peerCred(socket);
  if (cred && cred.uid !== uid) {
    socket.destroy();
    throw new UserError(
      `the socket ${path} is served by uid ${cred.uid}, not by you (uid ${uid}): refusing to talk to it. ` +
        'Someone else may be impersonating your daemon; use a --socket in a directory only you can write.',
    );
  }
}

function tryConnect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.off('error', reject);
      try {
        checkServer(socket, path);
        resolve(socket);
      } catch (err) {
        reject(err as Error);
      }
    });
    socket.once('error', reject);
  });
}

export class DaemonConnection {
  private readonly decoder = new FrameDecoder();
  private readonly replies: Reply[] = [];
  private waiter: ((r: Reply | null) => void) | null = null;
  private closed = false;
  /** Terminal data from the daemon (attach streams). */
  onData: ((data: Buffer) => void) | null = null;
  /** Control messages that arrive while nobody waits for one (attach streams); see setReplyHandler. */
  private onReply: ((reply: Reply) => void) | null = null;
  private onClose: (() => void) | null = null;
  daemonVersion = '';
  daemonPid = 0;
  /** The wrapper whose hooks the daemon runs (its script), null for plain tshpool. */
  daemonWrapper: string | null = null;
  /** Why the daemon's bytes could not be decoded, when that is what ended the connection. */
  private readError: Error | null = null;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onChunk(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.(null);
      this.waiter = null;
      this.onClose?.();
    });
  }

  private onChunk(chunk: Buffer): void {
    let frames;
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.readError = err as Error;
      this.socket.destroy(err as Error);
      return;
    }
    // Consecutive data frames of one read go out as one write: fewer syscalls on a flood.
    let data: Buffer[] = [];
    const flushData = (): void => {
      if (data.length === 0) return;
      const out = data.length === 1 ? data[0]! : Buffer.concat(data);
      data = [];
      this.onData?.(out);
    };
    for (const frame of frames) {
      if (frame.kind === FrameKind.Data) {
        data.push(frame.data);
        continue;
      }
      flushData();
      let reply: Reply;
      try {
        reply = parseReply(frame.message);
      } catch (err) {
        this.socket.destroy(err as ProtocolError);
        return;
      }
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w(reply);
      } else if (this.onReply) this.onReply(reply);
      else this.replies.push(reply);
    }
    flushData();
  }

  /**
   * Routes every further control message to `handler`, starting with any that
   * already arrived (an `exit` can come in the same read as `attached`).
   */
  setReplyHandler(handler: ((reply: Reply) => void) | null): void {
    this.onReply = handler;
    if (handler) for (const r of this.replies.splice(0)) handler(r);
  }

  /** Calls `handler` when the connection closes — at once if it already has. */
  setCloseHandler(handler: (() => void) | null): void {
    this.onClose = handler;
    if (handler && this.closed) handler();
  }

  send(req: Request): void {
    if (!this.closed) this.socket.write(encodeControl(req));
  }

  sendData(data: Buffer): void {
    if (this.closed) return;
    const [head, body] = encodeData(data);
    this.socket.cork();
    this.socket.write(head);
    this.socket.write(body);
    this.socket.uncork();
  }

  /** The next control reply; a closed connection is a clear error. */
  async next(): Promise<Reply> {
    const queued = this.replies.shift();
    if (queued) return queued;
    const reply = this.closed ? null : await new Promise<Reply | null>((resolve) => (this.waiter = resolve));
    if (!reply) throw new UserError(this.closedWhy());
    return reply;
  }

  /** Says why no reply came, claiming a crash only when the daemon is really gone. */
  private closedWhy(): string {
    if (this.readError) return `cannot read the daemon's reply: ${this.readError.message}`;
    if (!this.daemonPid) return "the daemon closed the connection before answering; see 'tshpool logs'";
    try {
      process.kill(this.daemonPid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return `the daemon (pid ${this.daemonPid}) is gone — it may have crashed; see 'tshpool logs'`;
    }
    return `the daemon (pid ${this.daemonPid}) closed the connection without a reply; see 'tshpool logs'`;
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  /** Exchanges hellos; a version mismatch or a daemon that does not answer becomes a UserError. */
  async handshake(): Promise<void> {
    this.send({ type: 'hello', protocol: PROTOCOL_VERSION, version: VERSION });
    const timer = setTimeout(() => this.socket.destroy(), HANDSHAKE_TIMEOUT_MS);
    const reply = await this.next().catch(() => {
      throw new UserError(`the daemon at ${this.socket.remoteAddress || 'its socket'} did not answer within ${HANDSHAKE_TIMEOUT_MS / 1000} s; see 'tshpool logs' or 'tshpool doctor'`);
    });
    clearTimeout(timer);
    if (reply.type === 'error') throw new UserError(reply.reason);
    if (reply.type !== 'hello') throw new UserError(`unexpected reply from the daemon: ${reply.type}`);
    this.daemonVersion = reply.version;
    this.daemonPid = reply.pid;
    this.daemonWrapper = reply.wrapper ?? null;
  }
}

export interface ConnectOptions {
  paths: Paths;
  /** false = never start a daemon (--no-daemonize / nodaemonize). */
  autoStart: boolean;
  launch: DaemonLaunch;
  /** Notices for the user (stale socket...), printed on stderr. */
  notice: (msg: string) => void;
}

/** Connects to the running daemon, or returns null when none runs (without starting one). */
export async function connectExisting(paths: Paths): Promise<DaemonConnection | null> {
  checkSocketPathLength(paths.socket);
  try {
    const c = new DaemonConnection(await tryConnect(paths.socket));
    await c.handshake();
    return c;
  } catch (err) {
    const code = (err as ConnectError).code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED') return null;
    throw err;
  }
}

/**
 * For the quick paths (quick-list.ts, quick-attach.ts): the daemon at the default
 * paths if one runs, else null — also for anything unusual, which the full CLI
 * then reports with its usual messages.
 */
export async function connectRunningQuietly(): Promise<DaemonConnection | null> {
  try {
    const paths = resolvePaths({});
    ensureDirs(paths);
    return await connectExisting(paths);
  } catch {
    return null;
  }
}

export async function connect(opts: ConnectOptions): Promise<DaemonConnection> {
  const { paths } = opts;
  checkSocketPathLength(paths.socket);
  try {
    ensureDirs(paths);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  let socket: Socket;
  try {
    socket = await tryConnect(paths.socket);
  } catch (err) {
    const code = (err as ConnectError).code;
    if (code !== 'ENOENT' && code !== 'ECONNREFUSED') {
      throw new UserError(`cannot connect to the daemon at ${paths.socket}: ${(err as Error).message}`);
    }
    if (!opts.autoStart) {
      throw new UserError(
        `no daemon is running at ${paths.socket}. Start one with 'tshpool daemon' ` +
          '(automatic start is off: --no-daemonize or nodaemonize = true in the config).',
      );
    }
    if (code === 'ECONNREFUSED') {
      opts.notice('the previous tshpool daemon is gone (stale socket); its sessions were lost. Starting a new daemon.');
    }
    // Loaded only here: child_process and the start-up polling cost every command ~4 ms otherwise.
    const { startDaemon } = await import('./daemonize.js');
    socket = await startDaemon(paths, opts.launch, tryConnect);
  }
  const c = new DaemonConnection(socket);
  await c.handshake();
  const mine = opts.launch.hookHost?.command.at(-1) ?? null;
  if (mine !== null && c.daemonWrapper !== mine) opts.notice(wrapperMismatch(mine, c, paths));
  return c;
}

/** A wrapper's client found a daemon that runs other hooks (or none): say so, and how to fix it. */
function wrapperMismatch(mine: string, c: DaemonConnection, paths: Paths): string {
  const theirs = c.daemonWrapper ? `the wrapper ${c.daemonWrapper}` : 'plain tshpool (no hooks)';
  return (
    `warning: the daemon at ${paths.socket} (pid ${c.daemonPid}) was started by ${theirs}, so this wrapper's hooks (${mine}) ` +
    `do not run for its sessions. Give this wrapper a socket of its own (--socket PATH or TSHPOOL_SOCKET), ` +
    `or stop that daemon (kill ${c.daemonPid}; its sessions end) so that this wrapper starts one.`
  );
}
