/**
 * GNU screen: one backend process per session (SCREENDIR in the sandbox). The
 * memory and CPU figures are the sum over all screen processes except the
 * benchmark's attached clients.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { run, waitUntil, which } from '../util.mjs';

const rc = (sb) => sb.path('screenrc');
const screen = (sb, args, opts = {}) => run('screen', ['-c', rc(sb), ...args], { env: sb.env, cwd: sb.home, ...opts });

export const screenTool = {
  id: 'screen',
  kind: 'peer',
  detachKeys: '\x01d',

  async probe() {
    if (!which('screen')) return { ok: false, hint: 'install it: `sudo apt-get install -y screen` (Debian/Ubuntu) or `brew install screen`' };
    const r = await run('screen', ['-v'], { timeoutMs: 5000 });
    return { ok: true, version: r.stdout.trim().replace(/^Screen version\s*/, 'screen ') };
  },

  setup(sb) {
    writeFileSync(rc(sb), 'startup_message off\n');
  },

  attachNew: (sb, name, o) => sb.term('screen', ['-c', rc(sb), '-S', name], o),
  attach: (sb, name, o) => sb.term('screen', ['-c', rc(sb), '-r', name], o),

  async createDetached(sb, name, argv) {
    const r = await screen(sb, ['-dmS', name, ...(argv ?? [])], { untilClose: false });
    if (r.code !== 0) throw new Error(`screen -dmS ${name} failed (exit ${r.code})`);
    // The backend creates its socket after `screen -dm` returned; `screen -r` fails until then.
    await waitUntil(() => readdirSync(sb.screenDir).some((f) => f.endsWith(`.${name}`)), { timeoutMs: 5000, intervalMs: 10, what: `screen session ${name} to appear` });
  },

  detach: (sb, name) => screen(sb, ['-d', name]),

  killSession: (sb, name) => screen(sb, ['-S', name, '-X', 'quit']),

  // `screen -ls` exits 1 when it lists sessions; only a crash or timeout is a failure.
  list: (sb) => screen(sb, ['-ls']),

  listCmd: (sb) => ({ argv: ['screen', '-c', rc(sb), '-ls'], okCodes: [0, 1] }),

  async countSessions(sb) {
    const r = await screen(sb, ['-ls']);
    return r.stdout.split('\n').filter((l) => /^\s+\d+\.\S+\s/.test(l)).length;
  },

  serverPids: (sb) => {
    const clients = new Set([...sb.terms].map((t) => t.pid));
    return sb
      .procs()
      .filter((p) => p.comm === 'screen' && !clients.has(p.pid))
      .map((p) => p.pid);
  },
};
