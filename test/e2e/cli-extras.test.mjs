// End-to-end: the commands around the sessions — shell completion (bash, zsh,
// fish: valid scripts that complete subcommands, options and live session names),
// --help everywhere, the man page, `logs`, `doctor`, `list --names` and plain
// `list` output in a pipe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT, makeSandbox, waitUntil, skipWithout } from '../support/sandbox.mjs';
import { which } from '../support/sshd.mjs';

/** Runs a program to completion; resolves to { code, stdout, stderr } (never rejects on a non-zero exit). */
function runProgram(file, args, { env, cwd, timeout = 20_000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, cwd, timeout, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(Object.assign(err, { message: `${file} ${args.join(' ')}: ${err.message} ${stderr}` }));
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
  });
}

/**
 * A sandbox where `tshpool` on PATH is the executable under test (completion
 * scripts call `tshpool list --names`), with session `alpha` running.
 */
async function completionSandbox(t) {
  const sb = await makeSandbox(t);
  const binDir = sb.path('bin');
  mkdirSync(binDir);
  symlinkSync(BIN, join(binDir, 'tshpool'));
  sb.env.PATH = `${binDir}:${sb.env.PATH}`;
  await sb.runOk(['attach', '-b', 'alpha']);
  return sb;
}

async function completionScript(sb, shell) {
  const r = await sb.runOk(['completion', shell]);
  const file = sb.path(`completion.${shell}`);
  writeFileSync(file, r.stdout);
  return file;
}

/** The subcommands listed by `tshpool --help` (primary names, without `help`). */
async function commandNames(sb) {
  const r = await sb.runOk(['--help']);
  const section = r.stdout.split(/^Commands:$/m)[1];
  assert.ok(section, r.stdout);
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)(?:\|[a-z-]+)?(?= |$)/gm)].map((m) => m[1]).filter((n) => n !== 'help');
}

test('completion bash: valid script; completes subcommands, options and live session names', async (t) => {
  const sb = await completionSandbox(t);
  const file = await completionScript(sb, 'bash');
  const syntax = await runProgram('bash', ['-n', file], { env: sb.env });
  assert.equal(syntax.code, 0, syntax.stderr);

  const complete = async (...words) => {
    const r = await runProgram(
      'bash',
      ['-c', 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _tshpool; printf "%s\\n" "${COMPREPLY[@]}"', '_', file, ...words],
      { env: sb.env, cwd: sb.home },
    );
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean);
  };
  assert.deepEqual(await complete('tshpool', 'attach', ''), ['alpha']);
  assert.deepEqual(await complete('tshpool', 'kill', 'al'), ['alpha']);
  assert.deepEqual(await complete('tshpool', 'list', ''), [], 'list takes no session name');
  const subcommands = await complete('tshpool', '');
  for (const c of ['attach', 'list', 'kill', 'logs', 'doctor', 'completion', 'systemd']) assert.ok(subcommands.includes(c), `${c} in ${subcommands}`);
  assert.deepEqual(await complete('tshpool', 'at'), ['attach']);
  assert.deepEqual(await complete('tshpool', '--socket', '/x', 'attach', ''), ['alpha'], 'skips a global option and its value');
  const attachOpts = await complete('tshpool', 'attach', '--');
  for (const o of ['--force', '--background', '--ttl', '--cmd', '--dir', '--hook']) assert.ok(attachOpts.includes(o), `${o} in ${attachOpts}`);
  assert.deepEqual(await complete('tshpool', 'list', '--'), ['--json', '--names']);
});

test('completion bash: the `ls` alias completes options like `list`', async (t) => {
  const sb = await completionSandbox(t);
  const file = await completionScript(sb, 'bash');
  const r = await runProgram('bash', ['-c', 'source "$1"; COMP_WORDS=(tshpool ls --); COMP_CWORD=2; _tshpool; printf "%s\\n" "${COMPREPLY[@]}"', '_', file], { env: sb.env });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\n').filter(Boolean), ['--json', '--names']);
});

test('completion zsh: valid script; completes subcommands, options and live session names', { skip: skipWithout(which('zsh'), 'zsh is not installed') }, async (t) => {
  const sb = await completionSandbox(t);
  const file = await completionScript(sb, 'zsh');
  const syntax = await runProgram('zsh', ['-n', file], { env: sb.env });
  assert.equal(syntax.code, 0, syntax.stderr);

  // Outside a completion widget: compadd/compdef stubbed, words/CURRENT set by hand.
  const complete = async (...words) => {
    const r = await runProgram(
      'zsh',
      ['-f', '-c', 'compdef() { :; }; compadd() { print -rl -- "$@"; }; source $1; shift; words=("$@"); CURRENT=$#; _tshpool', '_', file, ...words],
      { env: sb.env, cwd: sb.home },
    );
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').filter((l) => l && l !== '--');
  };
  assert.deepEqual(await complete('tshpool', 'attach', ''), ['alpha']);
  const subcommands = await complete('tshpool', '');
  for (const c of ['attach', 'list', 'logs', 'doctor']) assert.ok(subcommands.includes(c), `${c} in ${subcommands}`);
  const attachOpts = await complete('tshpool', 'attach', '-');
  for (const o of ['--force', '--background', '--ttl']) assert.ok(attachOpts.includes(o), `${o} in ${attachOpts}`);
});

test('completion fish: valid script; completes subcommands, options and live session names', { skip: skipWithout(which('fish'), 'fish is not installed') }, async (t) => {
  const sb = await completionSandbox(t);
  const file = await completionScript(sb, 'fish');
  const syntax = await runProgram('fish', ['-n', file], { env: sb.env });
  assert.equal(syntax.code, 0, syntax.stderr);

  const complete = async (line) => {
    const r = await runProgram('fish', ['--no-config', '-c', 'source $argv[1]; complete -C $argv[2]', file, line], { env: sb.env, cwd: sb.home });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]);
  };
  assert.deepEqual(await complete('tshpool attach '), ['alpha']);
  assert.deepEqual(await complete('tshpool at'), ['attach']);
  const subcommands = await complete('tshpool ');
  for (const c of ['attach', 'list', 'logs', 'doctor', 'systemd']) assert.ok(subcommands.includes(c), `${c} in ${subcommands}`);
  const attachOpts = await complete('tshpool attach --');
  for (const o of ['--force', '--background', '--ttl', '--hook']) assert.ok(attachOpts.includes(o), `${o} in ${attachOpts}`);
});

test('completion for an unknown shell is a usage error (exit 2)', async (t) => {
  const sb = await makeSandbox(t);
  const r = await sb.run(['completion', 'nushell']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /nushell.*bash, zsh or fish/);
});

test('--help on every command exits 0 with its usage (attach shows examples); nothing starts a daemon', async (t) => {
  const sb = await makeSandbox(t);
  const names = await commandNames(sb);
  for (const c of ['attach', 'view', 'capture', 'send', 'detach', 'kill', 'list', 'events', 'status', 'version', 'logs', 'doctor', 'completion', 'systemd', 'daemon']) {
    assert.ok(names.includes(c), `${c} is listed by --help: ${names}`);
  }
  const results = await Promise.all([...names, 'ls'].map(async (name) => [name, await sb.run([name, '--help'])]));
  for (const [name, r] of results) {
    assert.equal(r.code, 0, `${name} --help: ${r.stderr}`);
    const primary = name === 'ls' ? 'list' : name;
    assert.match(r.stdout, new RegExp(`^Usage: tshpool ${primary}\\b`), `${name} --help: ${r.stdout}`);
    assert.match(r.stdout, /-h, --help/);
  }
  const attach = results.find(([n]) => n === 'attach')[1].stdout;
  assert.match(attach, /^Examples:\n {2}tshpool attach main$/m);
  assert.match(attach, /ssh -t host tshpool attach main/);
  assert.equal((await sb.run(['help', 'attach'])).stdout, attach, '`help attach` is `attach --help`');
  assert.equal(existsSync(sb.socketPath), false, '--help never starts a daemon');
});

test('man -l man/tshpool.1 renders and documents every command', { skip: skipWithout(which('man'), 'man is not installed') }, async (t) => {
  const sb = await makeSandbox(t);
  const names = await commandNames(sb);
  const r = await runProgram('man', ['-l', join(ROOT, 'man', 'tshpool.1')], {
    env: { ...sb.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '100', LANG: 'C.UTF-8', MAN_KEEP_FORMATTING: '' },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /warning|error/i, r.stderr);
  const text = r.stdout.replace(/.\x08/g, ''); // overstrike bold/underline, if any
  assert.match(text, /^TSHPOOL\(1\)/m);
  for (const s of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'COMMANDS', 'EXIT STATUS', 'FILES']) assert.match(text, new RegExp(`^${s}$`, 'm'), `section ${s}`);
  for (const name of names) assert.match(text, new RegExp(`^ {3}${name}(?: |$)`, 'm'), `the man page has a subsection for ${name}`);
});

test('logs: last lines of the daemon log, -n, -f follows new lines; no log yet is an error', async (t) => {
  const sb = await makeSandbox(t);
  const none = await sb.run(['logs']);
  assert.equal(none.code, 1);
  assert.equal(none.stdout, '');
  assert.ok(none.stderr.includes(`no daemon log at ${sb.logPath} yet`), none.stderr);
  assert.equal(existsSync(sb.socketPath), false, 'logs does not start a daemon');

  await sb.runOk(['attach', '-b', 'one']);
  const all = await waitUntil(
    async () => {
      const r = await sb.runOk(['logs']);
      return r.stdout.includes('session created session="one"') ? r : null;
    },
    { timeout: 5000, message: '"session created" in tshpool logs' },
  );
  assert.match(all.stdout, /daemon started/);
  assert.ok(all.stdout.endsWith('\n'));
  const last = await sb.runOk(['logs', '-n', '1']);
  assert.equal(last.stdout.split('\n').length, 2, `one line: ${JSON.stringify(last.stdout)}`);
  assert.ok(all.stdout.endsWith(last.stdout), 'the last line of the log');
  assert.equal((await sb.run(['logs', '-n', 'x'])).code, 2);

  const follow = sb.spawnChild(['logs', '-f', '-n', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  follow.stdout.setEncoding('utf8').on('data', (d) => (out += d));
  const exited = new Promise((resolve) => follow.once('exit', (code, signal) => resolve({ code, signal })));
  await waitUntil(() => out.length > 0, { timeout: 5000, message: 'logs -f to print the last line' });
  assert.equal(out.includes('session="two"'), false);
  await sb.runOk(['attach', '-b', 'two']);
  await waitUntil(() => out.includes('session created session="two"'), { timeout: 5000, message: `logs -f to show the new session; got ${JSON.stringify(out)}` });
  follow.kill('SIGINT');
  const exit = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 5000))]);
  assert.deepEqual(exit, { code: 0, signal: null }, 'logs -f ends with 0 when interrupted');
});

test('logs -n 0 prints no lines (like tail -n 0), so `logs -f -n 0` follows only new lines', async (t) => {
  const sb = await makeSandbox(t);
  await sb.runOk(['attach', '-b', 'one']);
  await waitUntil(async () => (await sb.runOk(['logs'])).stdout.includes('session created'), { timeout: 5000, message: 'the log' });
  const r = await sb.run(['logs', '-n', '0']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '', 'logs -n 0 printed the whole log');
});

test('doctor: all good in a healthy sandbox; names the problem and a fix for a 0755 runtime dir and invalid TOML', async (t) => {
  const sb = await makeSandbox(t);
  const cold = await sb.run(['doctor']);
  assert.equal(cold.code, 0, cold.stdout + cold.stderr);
  assert.match(cold.stdout, /\nall good\n$/);
  assert.match(cold.stdout, /no daemon running/);
  assert.equal(existsSync(sb.socketPath), false, 'doctor does not start a daemon');

  await sb.runOk(['attach', '-b', 'd']);
  const warm = await sb.run(['doctor']);
  assert.equal(warm.code, 0, warm.stdout + warm.stderr);
  assert.match(warm.stdout, /daemon running \(pid \d+, version /);
  assert.match(warm.stdout, /\nall good\n$/);
  assert.doesNotMatch(warm.stdout, /FAIL/);

  const dir = join(sb.runtimeDir, 'tshpool');
  chmodSync(dir, 0o755);
  const open = await sb.run(['doctor']);
  chmodSync(dir, 0o700);
  assert.equal(open.code, 1, open.stdout);
  assert.match(open.stdout, new RegExp(`FAIL +${dir} has mode 755`));
  assert.ok(open.stdout.includes(`fix: chmod 700 ${dir}`), open.stdout);
  assert.match(open.stdout, /\n1 problem found\n$/);

  sb.writeConfig('norc = [\n');
  const bad = await sb.run(['doctor']);
  assert.equal(bad.code, 1, bad.stdout);
  const failLine = bad.stdout.split('\n').find((l) => l.startsWith('FAIL'));
  assert.ok(failLine?.includes(sb.configFile), `the FAIL line names the config file: ${bad.stdout}`);
  assert.match(bad.stdout, /FAIL[^\n]*\n\s+fix: correct the file/);
  assert.match(bad.stdout, /problems? found\n$/);
});

test('list --names prints one name per line; list in a pipe is a plain table, NO_COLOR or not', async (t) => {
  const sb = await makeSandbox(t);
  assert.equal((await sb.runOk(['list', '--names'])).stdout, '', 'no sessions: no output');
  await sb.runOk(['attach', '-b', 'beta']);
  await sb.runOk(['attach', '-b', 'alpha']);
  assert.equal((await sb.runOk(['list', '--names'])).stdout, 'alpha\nbeta\n');
  assert.equal((await sb.runOk(['ls', '--names'])).stdout, 'alpha\nbeta\n');

  for (const env of [{ NO_COLOR: undefined, FORCE_COLOR: undefined }, { NO_COLOR: '1' }, { FORCE_COLOR: undefined, CLICOLOR_FORCE: undefined, TERM: 'xterm-256color', COLORTERM: 'truecolor' }]) {
    const r = await sb.runOk(['list'], { env });
    assert.doesNotMatch(r.stdout, /\x1b/, `no escape sequences (${JSON.stringify(env)}): ${JSON.stringify(r.stdout)}`);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^NAME +STATUS +STARTED +PID +CLIENT PID +VIEWERS$/);
    assert.match(lines[1], /^alpha +disconnected +\d+s ago +\d+ +- +0$/);
    assert.match(lines[2], /^beta +disconnected /);
    assert.equal(lines.length, 3);
  }
});
