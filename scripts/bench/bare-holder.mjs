/**
 * The bare-pty "server" for the memory and scale steps: a Node process that holds
 * many ptys with node-pty and drains their output, nothing else. It is the floor
 * for a Node daemon (Node itself + node-pty + one pty per session).
 *
 * Driven over the IPC channel: { id, op: 'spawn', file, args, cwd } -> { id, ok, pid | error }.
 * Exits (killing its ptys) when the channel closes.
 */
import pty from 'node-pty';

const ptys = [];
process.on('message', (m) => {
  if (m.op !== 'spawn') return;
  try {
    const p = pty.spawn(m.file, m.args, { name: 'xterm-256color', cols: 80, rows: 24, cwd: m.cwd, env: process.env, encoding: null });
    p.onData(() => {});
    ptys.push(p);
    process.send({ id: m.id, ok: true, pid: p.pid });
  } catch (err) {
    process.send({ id: m.id, ok: false, error: err.message });
  }
});
process.on('disconnect', () => {
  for (const p of ptys) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  process.exit(0);
});
