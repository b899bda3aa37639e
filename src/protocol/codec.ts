/**
 * Framing of the tshpool socket. Both directions carry a sequence of frames:
 *
 *   +--------+-------------------+---------------------+
 *   | kind   | length            | payload             |
 *   | 1 byte | u32 big-endian    | `length` bytes      |
 *   +--------+-------------------+---------------------+
 *
 *   kind 0x01 CONTROL  payload is one UTF-8 JSON object (a Request or a Reply, see messages.ts)
 *   kind 0x02 DATA     payload is raw terminal bytes (client→daemon: keyboard input;
 *                      daemon→client: shell output). Never JSON: bytes stay bytes.
 *
 * Lengths are capped per kind; an unknown kind or an oversize length is a protocol
 * error that ends the connection (and only that connection).
 */

export const FrameKind = { Control: 0x01, Data: 0x02 } as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export const FRAME_HEADER_BYTES = 5;
/** Control messages are small JSON objects; anything larger is a broken or hostile peer. */
export const MAX_CONTROL_FRAME_BYTES = 256 * 1024;
/** Data frames carry a pty read (≤64 KiB) or a serialized screen with scrollback. */
export const MAX_DATA_FRAME_BYTES = 16 * 1024 * 1024;

/**
 * What a decoder accepts, set by its owner as the conversation goes on (the
 * daemon narrows it per connection state, so no peer can make it buffer more
 * than the current state needs): the largest control frame, and for data frames
 * a largest size, 'discard' (skipped as they arrive, never buffered: a viewer's
 * keystrokes) or 'refuse' (not allowed now: a protocol error).
 */
export interface FrameLimits {
  control: number;
  data: number | 'discard' | 'refuse';
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = { control: MAX_CONTROL_FRAME_BYTES, data: MAX_DATA_FRAME_BYTES };

export type Frame = { kind: typeof FrameKind.Control; message: unknown } | { kind: typeof FrameKind.Data; data: Buffer };

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

function header(kind: FrameKind, length: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  h.writeUInt8(kind, 0);
  h.writeUInt32BE(length, 1);
  return h;
}

/** Encodes a control message as one buffer. */
export function encodeControl(message: object): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  if (body.length > MAX_CONTROL_FRAME_BYTES) throw new ProtocolError(`control message too large (${body.length} bytes)`);
  return Buffer.concat([header(FrameKind.Control, body.length), body]);
}

/** Encodes terminal bytes as header + payload, without copying the payload. */
export function encodeData(data: Buffer): [Buffer, Buffer] {
  if (data.length > MAX_DATA_FRAME_BYTES) throw new ProtocolError(`data frame too large (${data.length} bytes)`);
  return [header(FrameKind.Data, data.length), data];
}

/**
 * Incremental decoder: push socket chunks in, get whole frames out. Throws
 * ProtocolError on the first malformed frame; the caller then drops the connection.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Payload bytes of a discarded data frame still to skip. */
  private skipping = 0;
  limits: FrameLimits = DEFAULT_FRAME_LIMITS;

  /** Checks a frame header against the limits; true when its payload is to be skipped. */
  private admit(kind: number, length: number): boolean {
    const { control, data } = this.limits;
    if (kind === FrameKind.Control) {
      if (length > control) throw new ProtocolError(`control frame of ${length} bytes exceeds ${control}`);
      return false;
    }
    if (kind !== FrameKind.Data) throw new ProtocolError(`unknown frame kind 0x${kind.toString(16).padStart(2, '0')}`);
    if (data === 'refuse') throw new ProtocolError('terminal data before attaching');
    if (data === 'discard') return length <= MAX_DATA_FRAME_BYTES || this.tooLarge(length);
    if (length > data) this.tooLarge(length, data);
    return false;
  }

  private tooLarge(length: number, cap = MAX_DATA_FRAME_BYTES): never {
    throw new ProtocolError(`data frame of ${length} bytes exceeds ${cap}`);
  }

  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    this.pushEach(chunk, (f) => frames.push(f));
    return frames;
  }

  /**
   * Like push, but hands each frame to `emit` as soon as it is decoded, so the
   * caller can change `limits` before the next header is checked.
   */
  pushEach(chunk: Buffer, emit: (frame: Frame) => void): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.skipping > 0) this.skip();
      if (this.skipping > 0 || this.buffered < FRAME_HEADER_BYTES) break;
      const head = this.peek(FRAME_HEADER_BYTES);
      const kind = head.readUInt8(0);
      const length = head.readUInt32BE(1);
      if (this.admit(kind, length)) {
        this.take(FRAME_HEADER_BYTES);
        this.skipping = length;
        continue;
      }
      if (this.buffered < FRAME_HEADER_BYTES + length) break;
      this.take(FRAME_HEADER_BYTES);
      const payload = this.take(length);
      if (kind === FrameKind.Data) {
        emit({ kind: FrameKind.Data, data: payload });
      } else {
        let message: unknown;
        try {
          message = JSON.parse(payload.toString('utf8'));
        } catch (err) {
          throw new ProtocolError(`invalid JSON in control frame: ${(err as Error).message}`);
        }
        if (typeof message !== 'object' || message === null || Array.isArray(message)) {
          throw new ProtocolError('control frame is not a JSON object');
        }
        emit({ kind: FrameKind.Control, message });
      }
    }
  }

  /** Bytes received but not yet part of a whole frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** True while a frame has begun but not ended (buffered or being skipped). */
  get midFrame(): boolean {
    return this.buffered > 0 || this.skipping > 0;
  }

  /** Drops buffered bytes of a discarded frame, chunk by chunk (never concatenated). */
  private skip(): void {
    while (this.skipping > 0 && this.chunks.length > 0) {
      const first = this.chunks[0]!;
      const n = Math.min(first.length, this.skipping);
      if (n === first.length) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      this.skipping -= n;
    }
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.chunks, this.buffered).subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (n === 0) return Buffer.alloc(0);
    // Fast path: the frame lies within the first chunk (the common case for pty-sized reads).
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const all = Buffer.concat(this.chunks, this.buffered);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }
}
