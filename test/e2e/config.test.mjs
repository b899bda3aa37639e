// End-to-end: the config file — errors name the file, line and key; unknown keys
// warn; --config-file replaces the usual files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { makeSandbox, procEnv } from '../support/sandbox.mjs';

/** Runs attach -b and list with the current config; both must fail with `re` on stderr, creating nothing. */
async function assertConfigError(sb, re) {
  for (const args of [['attach', '-b', 'x'], ['list']]) {
    const r = await sb.run(args);
    assert.notEqual(r.code, 0, `${args.join(' ')} should fail`);
    assert.ok(r.stderr.includes(sb.configFile), `names the file: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  assert.equal(existsSync(sb.socketPath), false, 'no daemon was started');
}

test('a wrong type is an error naming the file, line and key', async (t) => {
  const sb = await makeSandbox(t);
  // BASE_CONFIG is line 1.
  sb.writeConfig('\nnorc = "yes"\n');
  await assertConfigError(sb, /line 3\b.*'norc'/);
  sb.writeConfig('env = { FOO = 1 }\n');
  await assertConfigError(sb, /line 2\b.*'env\.FOO'/);
  sb.writeConfig('forward_env = ["A", 2]\n');
  await assertConfigError(sb, /line 2\b.*'forward_env\[1\]'/);
  sb.writeConfig('[[keybinding]]\nbinding = "Ctrl-a d"\naction = "detach"\n\n[[keybinding]]\nbinding = "Ctrl-a x"\naction = "explode"\n');
  await assertConfigError(sb, /line 8\b.*'keybinding\[1\]\.action'/);
  sb.writeConfig('[[keybinding]]\nbinding = "Hyper-z"\naction = "detach"\n');
  await assertConfigError(sb, /line 3\b.*'keybinding\[0\]\.binding'/);
});

test('invalid TOML is an error naming the file and line', async (t) => {
  const sb = await makeSandbox(t);
  sb.writeConfig('\nnorc = "unterminated\nnoecho = true\n');
  await assertConfigError(sb, /invalid TOML.*line 3\b/);
  sb.writeConfig('[env\nFOO = "bar"\n');
  await assertConfigError(sb, /invalid TOML.*line 2\b/);
  sb.writeConfig('shell = "/bin/sh"\n');
  await assertConfigError(sb, /line 2\b/); // a key defined twice
});

test('invalid TOML on a key line names that key', async (t) => {
  const sb = await makeSandbox(t);
  sb.writeConfig('norc = yes\n');
  await assertConfigError(sb, /line 2\b.*norc/);
});

test('an unknown key is a warning naming the file, line and key; everything else works', async (t) => {
  const sb = await makeSandbox(t);
  sb.writeConfig('bogus_key = 1\nenv = { FOO = "bar" }\n');
  const r = await sb.run(['attach', '-b', 'w']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning/);
  assert.ok(r.stderr.includes(sb.configFile), r.stderr);
  assert.match(r.stderr, /line 2\b.*bogus_key/);
  const s = await sb.session('w');
  assert.equal(procEnv(s.pid).FOO, 'bar', 'the rest of the config applies');
});

test('--config-file uses that file alone; a missing one is an error', async (t) => {
  const sb = await makeSandbox(t);
  sb.writeConfig('env = { FROM_USER_FILE = "1" }\n');
  const alt = sb.path('alt.toml');
  writeFileSync(alt, 'shell = "/bin/sh"\nenv = { FROM_ALT = "1" }\n');
  const r = await sb.run(['--config-file', alt, 'attach', '-b', 'alt']);
  assert.equal(r.code, 0, r.stderr);
  const s = await sb.session('alt');
  const env = procEnv(s.pid);
  assert.equal(env.FROM_ALT, '1');
  assert.equal(env.FROM_USER_FILE, undefined);
  // The daemon's PATH, and at its end the directory of the session's tshpool launcher.
  assert.equal(env.PATH, `${sb.env.PATH}:${env.TSHPOOL_BIN_DIR}`, "without initial_path the session gets the daemon's PATH");
  assert.match(env.TSHPOOL_BIN_DIR, /\/shell-integration\/bin$/);
  assert.match(s.cmd, /^\/bin\/sh\b/);

  const missing = sb.path('missing.toml');
  const r2 = await sb.run(['--config-file', missing, 'attach', '-b', 'm']);
  assert.notEqual(r2.code, 0);
  assert.ok(r2.stderr.includes(missing), r2.stderr);
});
