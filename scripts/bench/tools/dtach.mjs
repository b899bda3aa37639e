/**
 * dtach: one master process per session, a socket per session in the sandbox's
 * dtach dir, default options. No list command. Memory and CPU are summed over the
 * masters (every dtach process except the benchmark's attached clients).
 */
import { join } from 'node:path';
import { cmdline, signalAll } from '../procs.mjs';
import { run, which, waitUntil } from '../util.mjs';

const sock = (sb, name) => join(sb.dtachDir, name);

export const dtachTool = {
  id: 'dtach',
  kind: 'peer',
  detachKeys: '\x1c',

  async probe() {
    if (!which('dtach')) return { ok: false, hint: 'install it: `sudo apt-get install -y dtach` (Debian/Ubuntu) or `brew install dtach`' };
    const r = await run('dtach', ['--help'], { timeoutMs: 5000 });
    return { ok: true, version: `dtach ${/dtach - version (\S+)/.exec(r.stdout + r.stderr)?.[1] ?? '?'}` };
  },

  setup() {},

  attachNew: (sb, name, o) => sb.term('dtach', ['-A', sock(sb, name), sb.shell], o),
  attach: (sb, name, o) => sb.term('dtach', ['-a', sock(sb, name)], o),

  async createDetached(sb, name, argv) {
    const r = await run('dtach', ['-n', sock(sb, name), ...(argv ?? [sb.shell])], { env: sb.env, cwd: sb.home, untilClose: false });
    if (r.code !== 0) throw new Error(`dtach -n ${name} failed (exit ${r.code})`);
  },

  /** dtach has no kill command: SIGTERM the session's master (the shell then gets SIGHUP). */
  async killSession(sb, name) {
    const s = sock(sb, name);
    const clients = new Set([...sb.terms].map((t) => t.pid));
    const masters = () => sb.procs().filter((p) => p.comm === 'dtach' && !clients.has(p.pid) && cmdline(p.pid).includes(s)).map((p) => p.pid);
    signalAll(masters(), 'SIGTERM');
    await waitUntil(() => masters().length === 0, { timeoutMs: 3000, what: `dtach master of ${name} to exit` }).catch(() => signalAll(masters(), 'SIGKILL'));
  },

  list: null,
  listCmd: null,
  countSessions: null,

  serverPids: (sb) => {
    const clients = new Set([...sb.terms].map((t) => t.pid));
    return sb
      .procs()
      .filter((p) => p.comm === 'dtach' && !clients.has(p.pid))
      .map((p) => p.pid);
  },
};
