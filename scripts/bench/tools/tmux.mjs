/** tmux: one server per sandbox (TMUX_TMPDIR), default settings (an empty config file). */
import { writeFileSync } from 'node:fs';
import { run, shJoin, which } from '../util.mjs';

const conf = (sb) => sb.path('tmux.conf');
const tmux = (sb, args, opts = {}) => run('tmux', ['-f', conf(sb), ...args], { env: sb.env, cwd: sb.home, ...opts });

export const tmuxTool = {
  id: 'tmux',
  kind: 'peer',
  detachKeys: '\x02d',

  async probe() {
    if (!which('tmux')) return { ok: false, hint: 'install it: `sudo apt-get install -y tmux` (Debian/Ubuntu) or `brew install tmux`' };
    const r = await run('tmux', ['-V'], { timeoutMs: 5000 });
    return { ok: true, version: r.stdout.trim() };
  },

  setup(sb) {
    writeFileSync(conf(sb), '');
  },

  attachNew: (sb, name, o) => sb.term('tmux', ['-f', conf(sb), 'new-session', '-s', name], o),
  attach: (sb, name, o) => sb.term('tmux', ['-f', conf(sb), 'attach-session', '-t', name], o),

  async createDetached(sb, name, argv) {
    const r = await tmux(sb, ['new-session', '-d', '-s', name, '-x', '80', '-y', '24', ...(argv ? [shJoin(argv)] : [])], { untilClose: false });
    if (r.code !== 0) throw new Error(`tmux new-session -d ${name} failed (exit ${r.code})`);
  },

  killSession: (sb, name) => tmux(sb, ['kill-session', '-t', name]),
  detach: (sb, name) => tmux(sb, ['detach-client', '-s', name]),

  async list(sb) {
    const r = await tmux(sb, ['ls']);
    if (r.code !== 0) throw new Error(`tmux ls failed: ${r.stderr.trim()}`);
  },

  listCmd: (sb) => ({ argv: ['tmux', '-f', conf(sb), 'ls'], okCodes: [0] }),

  async countSessions(sb) {
    const r = await tmux(sb, ['ls']);
    return r.stdout.split('\n').filter((l) => l.trim()).length;
  },

  serverPids: (sb) =>
    sb
      .procs()
      .filter((p) => p.comm.startsWith('tmux: server'))
      .map((p) => p.pid),
};
