// End-to-end: what a new session runs — --cmd, --dir, its environment, rc files
// and echo — and which session names are accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readlinkSync } from 'node:fs';
import { userInfo } from 'node:os';
import { makeSandbox, procEnv, shellRun } from '../support/sandbox.mjs';

test('-c runs the command instead of a shell', async (t) => {
  const sb = await makeSandbox(t);
  const term = sb.spawnTerm(['attach', '-c', 'sh -c "echo h$((3+4))i; sleep 30"', 'c1']);
  await term.waitFor('h7i'); // the command line itself says h$((3+4))i
  const s = await sb.session('c1');
  assert.equal(s.cmd, 'sh -c echo h$((3+4))i; sleep 30');
  assert.equal(term.exit, null);
});

test('-c with an unknown program is a clear error and creates nothing', async (t) => {
  const sb = await makeSandbox(t);
  const r = await sb.run(['attach', '-b', '-c', 'no-such-program-xyz --flag', 'c2']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /not found: no-such-program-xyz/);
  assert.deepEqual(await sb.list(), []);
});

test('-d starts the session in DIR (relative to the client cwd); default $HOME; default_dir from the config', async (t) => {
  const sb = await makeSandbox(t);
  const work = sb.path('h', 'work');
  mkdirSync(work);
  const term = await sb.attachShell('d1', { args: ['-d', work] });
  assert.equal(await shellRun(term, 'pwd'), `${work}\n`);

  const cwdOf = async (name) => readlinkSync(`/proc/${(await sb.session(name)).pid}/cwd`);
  assert.equal((await sb.run(['attach', '-b', '-d', 'work', 'd2'], { cwd: sb.home })).code, 0);
  assert.equal(await cwdOf('d2'), work);
  assert.equal((await sb.run(['attach', '-b', 'd3'], { cwd: work })).code, 0);
  assert.equal(await cwdOf('d3'), sb.home);

  sb.writeConfig(`default_dir = "${work}"\n`);
  assert.equal((await sb.run(['attach', '-b', 'd4'])).code, 0);
  assert.equal(await cwdOf('d4'), work);
});

test('-d with a missing directory is a clear error and creates nothing', async (t) => {
  const sb = await makeSandbox(t);
  const missing = sb.path('nope', 'missing');
  const r = await sb.run(['attach', '-b', '-d', missing, 'dm']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /director/);
  assert.ok(r.stderr.includes(missing), r.stderr);
  const term = sb.spawnTerm(['attach', '-d', missing, 'dm']);
  const exit = await term.waitExit();
  assert.notEqual(exit.exitCode, 0);
  assert.ok(term.clean.includes(missing), term.clean);
  assert.deepEqual(await sb.list(), []);
});

test('the shell sees TSHPOOL_SESSION_NAME, TERM from the client, config env, forward_env from the creating client', async (t) => {
  const sb = await makeSandbox(t, { config: 'forward_env = ["MYVAR"]\nenv = { FOO = "bar" }\n' });
  // Start the daemon with the default environment, so nothing can come from its own env.
  assert.equal((await sb.run(['list'])).code, 0);
  const term = await sb.attachShell('envs', { env: { TERM: 'vt100', MYVAR: 'from client', OTHERVAR: 'x' } });
  const out = await shellRun(term, 'echo "N=$TSHPOOL_SESSION_NAME T=$TERM F=$FOO M=$MYVAR O=${OTHERVAR-unset}"');
  assert.equal(out, 'N=envs T=vt100 F=bar M=from client O=unset\n');
  // A later client does not change the environment of an existing session.
  term.write('\x00\x11');
  await term.waitExit();
  const again = await sb.attachShell('envs', { env: { MYVAR: 'second' } });
  assert.equal(await shellRun(again, 'echo "M=$MYVAR"'), 'M=from client\n');
});

test("the session's initial environment: HOME/USER/LOGNAME/SHELL/PATH, initial_path, config env removes with \"\"", async (t) => {
  const sb = await makeSandbox(t, { config: 'initial_path = "/usr/bin:/bin:/opt/tsp"\nenv = { LANG = "", ZED = "z" }\n' });
  const r = await sb.run(['attach', '-b', 'e2'], { env: { LANG: 'C.UTF-8', TERM: 'vt220', DISPLAY: ':7', NOTFWD: '1' } });
  assert.equal(r.code, 0, r.stderr);
  const env = procEnv((await sb.session('e2')).pid);
  const user = userInfo().username;
  assert.equal(env.HOME, sb.home);
  assert.equal(env.USER, user);
  assert.equal(env.LOGNAME, user);
  assert.equal(env.SHELL, '/bin/bash');
  assert.equal(env.PATH, `/usr/bin:/bin:/opt/tsp:${env.TSHPOOL_BIN_DIR}`, 'initial_path, then the tshpool launcher');
  assert.equal(env.TERM, 'vt220');
  assert.equal(env.DISPLAY, ':7', 'DISPLAY is forwarded by default');
  assert.equal(env.TSHPOOL_SESSION_NAME, 'e2');
  assert.equal(env.ZED, 'z');
  assert.equal(env.LANG, undefined, 'env = { LANG = "" } removes LANG');
  assert.equal(env.NOTFWD, undefined);
  assert.equal(env.XDG_CONFIG_HOME, undefined, "the daemon's own environment does not leak");
});

test('names: empty, whitespace, "/", "." and "..", >64 chars, control characters are usage errors (exit 2)', async (t) => {
  const sb = await makeSandbox(t);
  for (const name of ['', 'a b', 'a\tb', 'a/b', '.', '..', 'x'.repeat(65), 'a\x01b', 'a\x7fb']) {
    const r = await sb.run(['attach', '-b', name]);
    assert.equal(r.code, 2, `name ${JSON.stringify(name)}: code ${r.code} ${r.stderr}`);
    assert.match(r.stderr, /invalid session name/, `name ${JSON.stringify(name)}`);
  }
  assert.deepEqual(await sb.list(), []);
  const ok = ['x'.repeat(64), 'a.b-c_d', 'ünï'];
  for (const name of ok) assert.equal((await sb.run(['attach', '-b', name])).code, 0, name);
  assert.deepEqual((await sb.list()).map((s) => s.name).sort(), [...ok].sort());
});

test('norc = true starts the shell without rc files', async (t) => {
  const sb = await makeSandbox(t);
  const a = await sb.attachShell('rc');
  assert.equal(await shellRun(a, 'echo "P=${TSHPOOL_TEST_PROFILE:-none}"'), 'P=1\n', 'the profile runs by default');
  // The daemon reads its config when it starts: a second sandbox.
  const sb2 = await makeSandbox(t, { config: 'norc = true\n' });
  const b = await sb2.attachShell('norc');
  assert.equal(await shellRun(b, 'echo "P=${TSHPOOL_TEST_PROFILE:-none}"'), 'P=none\n');
});

test('noecho = true turns the terminal echo off', async (t) => {
  const count = (text, s) => text.split(s).length - 1;
  const sb = await makeSandbox(t);
  // `cat` shows each typed line twice with echo (echo + cat), once without.
  const a = sb.spawnTerm(['attach', '-c', 'sh -c "echo RE""ADY; exec cat"', 'echo']);
  await a.waitFor('READY');
  await a.waitRawMode();
  a.write('one1\rtwo2\r');
  await a.waitFor(/two2[\s\S]*two2/);
  assert.equal(count(a.output, 'one1'), 2);

  const sb2 = await makeSandbox(t, { config: 'noecho = true\n' });
  const b = sb2.spawnTerm(['attach', '-c', 'sh -c "echo RE""ADY; exec cat"', 'noecho']);
  await b.waitFor('READY');
  await b.waitRawMode();
  b.write('one1\rtwo2\r');
  await b.waitFor('two2');
  assert.equal(count(b.output, 'one1'), 1, JSON.stringify(b.output));
  assert.equal(count(b.output, 'two2'), 1, JSON.stringify(b.output));
});
