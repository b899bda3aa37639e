// End-to-end over a real SSH connection: a private sshd on 127.0.0.1 runs the
// tshpool under test (test/support/sshd.mjs); the test is the ssh client's terminal.
// A dropped connection (ssh SIGKILLed) leaves a disconnected session whose shell
// state and screen come back on reconnect; a forwarded agent keeps working in the
// old session after reconnecting through a new agent (the per-session symlink).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { makeSandbox, procEnv, shellRun } from '../support/sandbox.mjs';
import { sshUnavailable, startSshd } from '../support/sshd.mjs';

// In CI (which installs OpenSSH) a missing sshd must fail, not skip.
const skip = process.env.CI ? false : sshUnavailable();
const PROMPT = /tshpool:main \$ /;

/** Waits until `name` shows `status` in `list --json`, within `timeout` ms; returns the session entry. */
async function waitStatus(sb, name, status, timeout) {
  const sessions = await sb.waitForList((ss) => ss.find((s) => s.name === name)?.status === status, {
    timeout,
    message: `session ${name} to be ${status}`,
  });
  return sessions.find((s) => s.name === name);
}

test('ssh: a dropped connection leaves the session disconnected; reconnecting restores shell state and screen', { skip, timeout: 60_000 }, async (t) => {
  const sb = await makeSandbox(t);
  const sshd = await startSshd(t, sb);
  if (!sshd) return;

  const first = sshd.spawnSsh(['attach', 'main']);
  await sshd.waitFor(first, PROMPT, { timeout: 15_000, clean: true });
  const since = first.mark();
  first.write('X=42; cd /tmp; echo MA""RK\r');
  await first.waitFor(/^MARK\r?$/m, { since, clean: true });
  const before = await waitStatus(sb, 'main', 'attached', 5000);
  assert.ok(before.client_pid, 'the remote attach client is recorded');
  const clientEnv = procEnv(before.client_pid);
  assert.equal(clientEnv?.TSHPOOL_TEST_VIA_SSH, '1', 'the attach client runs under our sshd');
  assert.match(clientEnv.SSH_CONNECTION, new RegExp(`^127\\.0\\.0\\.1 \\d+ 127\\.0\\.0\\.1 ${sshd.port}$`));
  assert.equal(procEnv(before.pid)?.TSHPOOL_TEST_VIA_SSH, undefined, "sshd's environment does not leak into the session");

  // The connection drops: the ssh client dies without a word to the server.
  first.kill('SIGKILL');
  await first.waitExit();
  const dropped = Date.now();
  const after = await waitStatus(sb, 'main', 'disconnected', 3000);
  const took = Date.now() - dropped;
  assert.equal(after.pid, before.pid, 'the same shell keeps running');
  assert.equal(after.client_pid, null);
  t.diagnostic(`disconnected ${took} ms after the ssh client was killed`);

  const second = sshd.spawnSsh(['attach', 'main']);
  // Before typing anything: the restored screen shows the last command's output.
  await sshd.waitFor(second, /^MARK\r?$/m, { timeout: 15_000, clean: true });
  assert.match(second.clean, /X=42; cd \/tmp; echo MA""RK/, 'the command line is restored too');
  const again = await waitStatus(sb, 'main', 'attached', 5000);
  assert.equal(again.pid, before.pid);
  assert.notEqual(again.client_pid, before.client_pid, 'a new remote client');
  assert.equal(await shellRun(second, 'echo $X $PWD'), '42 /tmp\n');
  assert.equal(await shellRun(second, 'echo "$TSHPOOL_SESSION_NAME"'), 'main\n');
});

test('ssh -A: ssh-add -l works in the old session after reconnecting through a new agent', { skip, timeout: 60_000 }, async (t) => {
  const sb = await makeSandbox(t);
  const sshd = await startSshd(t, sb);
  if (!sshd) return;
  const link = join(sb.runtimeDir, 'tshpool', 'sessions', 'main', 'ssh-auth-sock');

  const agent1 = await sshd.startAgent('agent1');
  const first = sshd.spawnSsh(['attach', 'main'], { agent: agent1 });
  await sshd.waitFor(first, PROMPT, { timeout: 15_000, clean: true });
  const out1 = await shellRun(first, 'ssh-add -l; echo "sock=$SSH_AUTH_SOCK"');
  assert.match(out1, /tshpool-test-user \(ED25519\)/, 'the forwarded agent lists the key');
  assert.match(out1, new RegExp(`^sock=${link.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), 'SSH_AUTH_SOCK is the per-session symlink');
  const forwarded1 = readlinkSync(link);
  assert.match(forwarded1, /^\/tmp\/ssh-[^/]+\/agent\.\d+$/, "the link points at sshd's forwarded agent socket");
  const shellPid = (await sb.session('main')).pid;

  first.kill('SIGKILL');
  await first.waitExit();
  await waitStatus(sb, 'main', 'disconnected', 3000);
  await agent1.stop();

  // A new connection from a new agent (which also holds a second key, to tell them apart).
  const key2 = sshd.extraKey('id2_ed25519', 'tshpool-test-user-2');
  const agent2 = await sshd.startAgent('agent2', [sshd.userKey, key2]);
  const second = sshd.spawnSsh(['attach', 'main'], { agent: agent2 });
  await sshd.waitFor(second, PROMPT, { timeout: 15_000, clean: true });
  assert.equal((await waitStatus(sb, 'main', 'attached', 5000)).pid, shellPid, 'the same old session');
  const out2 = await shellRun(second, 'ssh-add -l; echo "sock=$SSH_AUTH_SOCK"');
  assert.match(out2, /tshpool-test-user \(ED25519\)/);
  assert.match(out2, /tshpool-test-user-2 \(ED25519\)/, 'it is the new agent that answers');
  assert.ok(out2.includes(`sock=${link}\n`), 'the same stable SSH_AUTH_SOCK');
  const forwarded2 = readlinkSync(link);
  assert.match(forwarded2, /^\/tmp\/ssh-[^/]+\/agent\.\d+$/);
  assert.notEqual(forwarded2, forwarded1, 're-pointed at the new connection');
});
