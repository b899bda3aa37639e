/**
 * The bare pty: node-pty running the command directly, no multiplexer in
 * between. It is the physical limit each figure is divided by. Sessions created
 * "in the background" live in a holder process (bare-holder.mjs).
 */
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive } from '../procs.mjs';
import { withTimeout } from '../util.mjs';

const HOLDER = join(dirname(fileURLToPath(import.meta.url)), '..', 'bare-holder.mjs');

/** The sandbox's holder process, started on first use. */
function holder(sb) {
  if (sb.holder && isAlive(sb.holder.child.pid) && sb.holder.child.connected) return sb.holder;
  const child = fork(HOLDER, [], { env: sb.env, cwd: sb.home, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const pending = new Map();
  child.on('message', (m) => {
    pending.get(m.id)?.(m);
    pending.delete(m.id);
  });
  child.on('error', () => {});
  let next = 0;
  sb.holder = {
    child,
    spawn(file, args) {
      const id = ++next;
      return withTimeout(
        new Promise((resolve, reject) => {
          pending.set(id, (m) => (m.ok ? resolve(m.pid) : reject(new Error(m.error))));
          child.send({ op: 'spawn', id, file, args, cwd: sb.home });
        }),
        10_000,
        'bare holder spawn',
      );
    },
  };
  return sb.holder;
}

export const bare = {
  id: 'bare-pty',
  kind: 'bare',
  detachKeys: null,

  async probe() {
    return { ok: true, version: `node-pty (Node ${process.versions.node})` };
  },

  setup() {},

  attachNew: (sb, _name, o) => sb.term(sb.shell, [], o),
  attach: null,

  async createDetached(sb, _name, argv) {
    const [file, ...args] = argv ?? [sb.shell];
    await holder(sb).spawn(file, args);
  },

  killSession: async () => {},
  list: null,
  listCmd: null,
  countSessions: null,
  serverPids: (sb) => (sb.holder && isAlive(sb.holder.child.pid) ? [sb.holder.child.pid] : []),
};
