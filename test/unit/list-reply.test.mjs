// The list reply in chunks (issue 15): any number of sessions, every frame within the control-frame cap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listReplies, MAX_LISTED_CMD_CHARS } from '../../dist/daemon/list-reply.js';
import { encodeControl } from '../../dist/protocol/codec.js';

const info = (i, cmd = '/bin/bash') => ({
  name: `s${i}`,
  status: 'disconnected',
  started_at_unix_ms: 1,
  last_connected_at_unix_ms: null,
  last_disconnected_at_unix_ms: null,
  pid: 1000 + i,
  client_pid: null,
  cmd,
  viewers: 0,
});

test('5,000 sessions go out in several frames, each encodable, together the whole list in order', () => {
  const sessions = Array.from({ length: 5000 }, (_, i) => info(i));
  const replies = listReplies(sessions);
  assert.ok(replies.length > 1);
  replies.forEach((r, i) => {
    assert.equal(r.more, i < replies.length - 1 ? true : undefined);
    assert.doesNotThrow(() => encodeControl(r));
  });
  assert.deepEqual(replies.flatMap((r) => r.sessions), sessions);
});

test('a huge command line is cut to a preview; an empty list is one frame', () => {
  const [r] = listReplies([info(0, 'x'.repeat(300_000)), info(1, '\u0001'.repeat(200_000))]);
  assert.equal(r.sessions[0].cmd.length, MAX_LISTED_CMD_CHARS + 1);
  assert.ok(r.sessions[0].cmd.endsWith('…'));
  assert.doesNotThrow(() => encodeControl(r));
  assert.deepEqual(listReplies([]), [{ type: 'list', sessions: [] }]);
});
