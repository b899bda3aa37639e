// End-to-end: editing the config while the daemon runs — the daemon reloads it
// (polling, ~500 ms), new sessions get the new values, running ones keep theirs, and
// an invalid edit keeps the previous config in force and is reported by `status`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeSandbox, procEnv, waitUntil } from '../support/sandbox.mjs';
import { attachRequest } from '../support/requests.mjs';

/** `tshpool status --json`, parsed. */
async function status(sb) {
  return JSON.parse((await sb.runOk(['status', '--json'])).stdout);
}

/** The daemon's status over the socket, without the CLI (which reads the config file itself). */
async function rawStatus(sb) {
  const c = await sb.connectRaw();
  const reply = await c.request({ type: 'status' });
  c.destroy();
  assert.equal(reply.type, 'status', JSON.stringify(reply));
  return reply.status;
}

/** Creates session `name` in the background over the socket (no CLI, so no client-side config). */
async function rawCreate(sb, name) {
  const c = await sb.connectRaw();
  const reply = await c.request(attachRequest({ name, env: { TERM: 'xterm-256color' } }));
  c.destroy();
  assert.equal(reply.type, 'attached', JSON.stringify(reply));
  return reply.shellPid;
}

/**
 * FOO in the environment of a session's shell. Waits for the shell's own
 * environment: right after the fork, /proc shows the daemon's until the exec.
 */
async function fooOfPid(pid, name) {
  const env = await waitUntil(() => (procEnv(pid)?.TSHPOOL_SESSION_NAME === name ? procEnv(pid) : null), { message: `${name}'s shell to start` });
  return env.FOO;
}
const fooOf = async (sb, name) => fooOfPid((await sb.session(name)).pid, name);

test('a config edit applies to new sessions only', async (t) => {
  const sb = await makeSandbox(t, { config: '[env]\nFOO = "one"\n' });
  await sb.runOk(['attach', '-b', 'old']);
  assert.equal(await fooOf(sb, 'old'), 'one');
  const before = (await status(sb)).config;
  assert.equal(before.error, null);
  assert.deepEqual(before.files, [sb.configFile]);

  sb.writeConfig('[env]\nFOO = "two"\n');
  await waitUntil(async () => (await rawStatus(sb)).config.loadedAtUnixMs > before.loadedAtUnixMs, {
    timeout: 5000,
    interval: 50,
    message: 'the daemon to reload the config',
  });
  const after = (await status(sb)).config;
  assert.ok(after.loadedAtUnixMs > before.loadedAtUnixMs, 'status --json shows the reload');
  assert.equal(after.error, null);

  await sb.runOk(['attach', '-b', 'new']);
  assert.equal(await fooOf(sb, 'new'), 'two', 'the new session has the new value');
  assert.equal(await fooOf(sb, 'old'), 'one', 'the running session keeps its value');
});

test('an invalid edit keeps the previous config in force; the daemon reports the error until the file is fixed', async (t) => {
  const sb = await makeSandbox(t, { config: '[env]\nFOO = "one"\n' });
  await sb.runOk(['list']); // starts the daemon
  const before = (await rawStatus(sb)).config;
  assert.equal(before.error, null);

  sb.writeConfig('[env]\nFOO = "two\n');
  const broken = await waitUntil(
    async () => {
      const c = (await rawStatus(sb)).config;
      return c.error ? c : null;
    },
    { timeout: 5000, interval: 50, message: 'the daemon to report the invalid config' },
  );
  assert.ok(broken.error.includes(sb.configFile), `names the file: ${broken.error}`);
  assert.match(broken.error, /line 3\b/);
  assert.equal(broken.loadedAtUnixMs, before.loadedAtUnixMs, 'nothing was loaded');
  const pid = await rawCreate(sb, 'during');
  assert.equal(await fooOfPid(pid, 'during'), 'one', 'new sessions still get the previous config');

  sb.writeConfig('[env]\nFOO = "three"\n');
  await waitUntil(async () => (await rawStatus(sb)).config.loadedAtUnixMs > before.loadedAtUnixMs, {
    timeout: 5000,
    interval: 50,
    message: 'the fixed config to load',
  });
  const fixed = (await status(sb)).config;
  assert.equal(fixed.error, null, 'the error is cleared');
  await sb.runOk(['attach', '-b', 'later']);
  assert.equal(await fooOf(sb, 'later'), 'three');
});

// Regression (fixed in d94be6a): the CLI used to parse the config file before talking
// to the daemon, so with the one config file broken `status` exited 1 and the daemon's
// `config.error` could never be seen.
test('`tshpool status --json` shows config.error while the config file is invalid', async (t) => {
  const sb = await makeSandbox(t, { config: '[env]\nFOO = "one"\n' });
  await sb.runOk(['list']); // starts the daemon
  sb.writeConfig('[env]\nFOO = "two\n');
  await waitUntil(async () => (await rawStatus(sb)).config.error, { timeout: 5000, interval: 50, message: 'the daemon to notice' });
  const r = await sb.run(['status', '--json']);
  assert.equal(r.code, 0, `status must still work to show the daemon's config error; stderr: ${r.stderr}`);
  const { config } = JSON.parse(r.stdout);
  assert.ok(config.error?.includes(sb.configFile), JSON.stringify(config));
});
