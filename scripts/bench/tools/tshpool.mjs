/**
 * tshpool itself: the built bin/tshpool of this checkout, with a config that runs
 * the sandbox's neutral shell. The daemon auto-starts on first use.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cmdline } from '../procs.mjs';
import { run, shJoin } from '../util.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BIN = join(ROOT, 'bin', 'tshpool');

const cli = (sb, args, opts = {}) => run(process.execPath, [BIN, ...args], { env: sb.env, cwd: sb.home, ...opts });

async function ok(p, what) {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 400)}`);
  return r;
}

export const tshpool = {
  id: 'tshpool',
  kind: 'subject',
  detachKeys: '\x00\x11',

  async probe() {
    if (!existsSync(join(ROOT, 'dist', 'cli.js'))) return { ok: false, hint: `not built: run \`cd ${ROOT} && npx tsc -p .\`` };
    const r = await run(process.execPath, [BIN, '--version'], { timeoutMs: 10_000 });
    let commit = '';
    try {
      const g = await run('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { timeoutMs: 5000 });
      const d = await run('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src'], { timeoutMs: 5000 });
      commit = ` (${g.stdout.trim()}${d.stdout.trim() ? ', src modified' : ''})`;
    } catch {
      // not a git checkout
    }
    return { ok: r.code === 0, version: `tshpool ${r.stdout.trim()}${commit}`, hint: r.stderr.trim() };
  },

  setup(sb) {
    const file = join(sb.env.XDG_CONFIG_HOME, 'tshpool', 'config.toml');
    mkdirSync(dirname(file), { recursive: true });
    // TSHPOOL_BENCH_CONFIG appends TOML for experiments, e.g. 'session_restore_mode = "simple"'.
    writeFileSync(file, `shell = "${sb.shell}"\n${process.env.TSHPOOL_BENCH_CONFIG ?? ''}`);
  },

  attachNew: (sb, name, o) => sb.term(process.execPath, [BIN, 'attach', name], o),
  attach: (sb, name, o) => sb.term(process.execPath, [BIN, 'attach', name], o),

  createDetached: (sb, name, argv) => ok(cli(sb, ['attach', '-b', ...(argv ? ['-c', shJoin(argv)] : []), name]), `tshpool attach -b ${name}`),

  killSession: (sb, name) => cli(sb, ['kill', name]),
  detach: (sb, name) => cli(sb, ['detach', name]),

  list: (sb) => ok(cli(sb, ['list']), 'tshpool list'),
  /** The list command as argv, with the exit codes that mean success (timed by the lean harness). */
  listCmd: () => ({ argv: [process.execPath, BIN, 'list'], okCodes: [0] }),

  async countSessions(sb) {
    const r = await ok(cli(sb, ['list', '--json']), 'tshpool list --json');
    return JSON.parse(r.stdout).sessions.length;
  },

  /** The daemon log's warnings and errors, to go with a failed measurement. */
  diagnose(sb) {
    try {
      const lines = readFileSync(join(sb.run, 'tshpool', 'tshpool.log'), 'utf8').split('\n');
      const bad = lines.filter((l) => / (WARN|ERROR) /.test(l) || /Error|error:/.test(l)).slice(-3);
      return bad.length ? `daemon log: ${bad.join(' | ').slice(0, 600)}` : `daemon log (last): ${lines.filter(Boolean).slice(-2).join(' | ').slice(0, 400)}`;
    } catch {
      return 'no daemon log';
    }
  },

  /** The daemon: the one process running `bin/tshpool daemon`. */
  serverPids: (sb) =>
    sb
      .procs()
      .filter((p) => {
        const argv = cmdline(p.pid);
        return argv.includes(BIN) && argv.includes('daemon');
      })
      .map((p) => p.pid),
};
