/**
 * Small things a first-day user runs into (issue 14, low items): messages that
 * name what they are about, usage errors that exit 2, and no empty successes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { makeSandbox, shellRun } from '../support/sandbox.mjs';

test("a busy session's message names the session in both commands it suggests", async (t) => {
  const sb = await makeSandbox(t);
  await sb.attachShell('busy1');
  const r = await sb.run(['attach', 'busy1'], { input: '' });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /'tshpool attach -f busy1'.*'tshpool view busy1'/);
});

test('set-log-level with an unknown level is a usage error (exit 2) that lists the levels', async (t) => {
  const sb = await makeSandbox(t);
  const r = await sb.run(['set-log-level', 'loud']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /unknown log level 'loud'.*error, warn, info, debug, trace/);
});

test('capture refuses, with the reason and what to do, in "simple" mode instead of printing nothing', async (t) => {
  const sb = await makeSandbox(t, { config: 'session_restore_mode = "simple"\n' });
  const a = await sb.attachShell('cap');
  await shellRun(a, 'echo HELLO');
  const r = await sb.run(['capture', 'cap']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /keeps no screen \(session_restore_mode = "simple"\).*"screen" or \{ lines = N \}/);
});

test('list lines up wide (CJK, emoji) names by terminal columns; name lengths count characters, not UTF-16 units', async (t) => {
  const sb = await makeSandbox(t);
  const emoji = '😀'.repeat(33); // 33 characters, 66 UTF-16 units
  for (const name of ['漢字名', 'ascii-name', emoji]) await sb.runOk(['attach', '-b', name]);
  const lines = (await sb.runOk(['list'])).stdout.trimEnd().split('\n');
  const statusColumn = (line) => {
    // The terminal column where STATUS starts: wide characters count twice.
    let col = 0;
    for (const ch of line.slice(0, line.search(/ (STATUS|disconnected)/) + 1)) col += /[\u3000-\u9fff\u{1f300}-\u{1f64f}]/u.test(ch) ? 2 : 1;
    return col;
  };
  const cols = lines.map(statusColumn);
  assert.ok(cols.every((c) => c === cols[0]), `STATUS starts at the same column on every line: ${JSON.stringify(cols)}\n${lines.join('\n')}`);
  const long = await sb.run(['attach', '-b', 'x'.repeat(65)]);
  assert.equal(long.code, 2);
  assert.match(long.stderr, /at most 64 characters \(got 65\)/);
  const longEmoji = await sb.run(['attach', '-b', '😀'.repeat(65)]);
  assert.match(longEmoji.stderr, /at most 64 characters \(got 65\)/);
});

test('doctor shows an unknown config key as a warning with the likely key, and still exits 0', async (t) => {
  const sb = await makeSandbox(t, { config: 'shel = "/bin/sh"\n' });
  const r = await sb.run(['doctor']);
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /^WARN  config warning: .*config\.toml, line 2: unknown key 'shel' ignored \(did you mean 'shell'\?\)$/m);
  assert.match(r.stdout, /all good/);
});

test('session directories left by a daemon that died are removed when the next daemon starts', async (t) => {
  const sb = await makeSandbox(t);
  await sb.runOk(['attach', '-b', 'left']);
  const dir = `${sb.runtimeDir}/tshpool/sessions`;
  assert.deepEqual(readdirSync(dir), ['left']);
  process.kill(await sb.daemonPid(), 'SIGKILL');
  await sb.runOk(['attach', '-b', 'new']);
  assert.deepEqual(readdirSync(dir), ['new']);
});

test('errors caused by config values name the key and where to fix it (shell, default_dir)', async (t) => {
  const sb = await makeSandbox(t);
  sb.writeConfig('shell = "/nonexistent/sh"\n', { base: false });
  const r = await sb.run(['attach', '-b', 's']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /command not found: \/nonexistent\/sh \(shell in \S+config\.toml; fix it there\)/);
  const dirSb = await makeSandbox(t, { config: 'default_dir = "/nonexistent"\n' });
  const d = await dirSb.run(['attach', '-b', 'd']);
  assert.equal(d.code, 1);
  assert.match(d.stderr, /directory does not exist: \/nonexistent \(default_dir = "\/nonexistent" in the config; fix it there, or give --dir\)/);
});

test('a config typo does not lock the user out: reattach and view work with a warning naming the file and line; creating is refused', async (t) => {
  const sb = await makeSandbox(t);
  const a = await sb.attachShell('main');
  a.write('\x00\x11');
  await a.waitExit();
  sb.writeConfig('norc = tru\n');
  const back = sb.spawnTerm(['attach', 'main']);
  await back.waitFor(/config\.toml, line 2, key 'norc'/);
  assert.match(back.clean, /the default settings and keys; the daemon keeps the config it has/);
  back.write('echo in$((3+4))\r');
  await back.waitFor('in7');
  back.write('\x00\x11');
  assert.equal((await back.waitExit()).exitCode, 0);
  const created = await sb.run(['attach', '-b', 'fresh']);
  assert.equal(created.code, 1);
  assert.match(created.stderr, /Fix the file to create a session; sessions that exist can still be attached and viewed meanwhile\./);
  const viewer = sb.spawnTerm(['view', 'main']);
  await viewer.waitFor(/default settings and keys[\s\S]*in7/);
  viewer.write('\x00\x11');
  assert.equal((await viewer.waitExit()).exitCode, 0);
});

test('`tshpool detach` works inside a session although tshpool is not installed on PATH (run from a checkout)', async (t) => {
  const sb = await makeSandbox(t);
  sb.env.PATH = '/usr/local/bin:/usr/bin:/bin';
  const a = await sb.attachShell('inside');
  assert.equal(await shellRun(a, 'command -v tshpool | grep -c shell-integration/bin/tshpool'), '1\n');
  a.write('tshpool detach\r');
  assert.equal((await a.waitExit()).exitCode, 0);
  assert.equal((await sb.session('inside')).status, 'disconnected');
});
