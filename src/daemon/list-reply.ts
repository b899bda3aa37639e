/**
 * The `list` reply for any number of sessions: one control frame holds at most
 * 256 KiB, about 1,400 sessions with short names (or two with huge --cmd lines),
 * so the sessions go out in as many `list` frames as it takes, all but the last
 * with `more: true`. A listed command line is cut to a preview, so one session
 * always fits a frame.
 */
import { MAX_CONTROL_FRAME_BYTES } from '../protocol/codec.js';
import type { Reply, SessionInfo } from '../protocol/messages.js';

/** A listed command line longer than this is cut (`cmd` is for people to read). */
export const MAX_LISTED_CMD_CHARS = 4096;
/** Sessions are added to a frame up to this many JSON bytes: well under the control-frame cap. */
const LIST_CHUNK_BYTES = MAX_CONTROL_FRAME_BYTES / 2;

function preview(info: SessionInfo): SessionInfo {
  return info.cmd.length > MAX_LISTED_CMD_CHARS ? { ...info, cmd: `${info.cmd.slice(0, MAX_LISTED_CMD_CHARS)}…` } : info;
}

/** The frames of one list reply, in order (at least one, possibly with no sessions). */
export function listReplies(sessions: readonly SessionInfo[]): Extract<Reply, { type: 'list' }>[] {
  const replies: Extract<Reply, { type: 'list' }>[] = [];
  let chunk: SessionInfo[] = [];
  let bytes = 0;
  for (const info of sessions) {
    const entry = preview(info);
    const size = Buffer.byteLength(JSON.stringify(entry));
    if (chunk.length > 0 && bytes + size > LIST_CHUNK_BYTES) {
      replies.push({ type: 'list', sessions: chunk, more: true });
      chunk = [];
      bytes = 0;
    }
    chunk.push(entry);
    bytes += size;
  }
  replies.push({ type: 'list', sessions: chunk });
  return replies;
}
