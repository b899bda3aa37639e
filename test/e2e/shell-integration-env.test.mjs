// End-to-end: the session directory ($TSHPOOL_SESSION_DIR) — the stable SSH agent
// link that follows the newest client, `nosymlink_ssh_auth_sock`, and forward.env
// (the newest client's forwarded variables, for the user to source).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { makeSandbox, procEnv, shellReady, shellRun, waitUntil, DETACH, detachByKeys } from '../support/sandbox.mjs';


/** A stand-in SSH agent: a unix socket server that answers every connection with `hello`. */
async function fakeAgent(t, path, hello) {
  const server = createServer((c) => c.end(hello));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, resolve);
  });
  t.after(() => server.close());
  return server;
}

/** Connects to the unix socket `path` and resolves to everything it sends before closing. */
function ask(path) {
  return new Promise((resolve, reject) => {
    const c = createConnection(path);
    let got = '';
    c.setEncoding('utf8');
    c.on('data', (d) => (got += d));
    c.on('end', () => resolve(got));
    c.on('error', reject);
  });
}

/** Reattaches in a new terminal with extra environment and waits until the shell answers. */
async function reattach(sb, name, env) {
  const term = sb.spawnTerm(['attach', name], { env });
  await term.waitRawMode();
  await shellReady(term);
  return term;
}

const readlinkOrNull = (p) => {
  try {
    return readlinkSync(p);
  } catch {
    return null;
  }
};

test("SSH_AUTH_SOCK is a stable link in the session directory that follows the newest client's agent", async (t) => {
  const sb = await makeSandbox(t);
  const agentA = sb.path('agent-a.sock');
  const agentB = sb.path('agent-b.sock');
  await fakeAgent(t, agentA, 'AGENT-A');
  await fakeAgent(t, agentB, 'AGENT-B');

  const a = await sb.attachShell('ag', { env: { SSH_AUTH_SOCK: agentA } });
  const dir = procEnv((await sb.session('ag')).pid).TSHPOOL_SESSION_DIR;
  assert.ok(dir, 'the shell has TSHPOOL_SESSION_DIR');
  const link = join(dir, 'ssh-auth-sock');
  assert.equal(await shellRun(a, 'echo "$SSH_AUTH_SOCK"'), `${link}\n`, "the shell's SSH_AUTH_SOCK is the session's link");
  await waitUntil(() => readlinkOrNull(link) === agentA, { message: 'the link to point at agent A' });
  assert.equal(await shellRun(a, 'readlink "$SSH_AUTH_SOCK"'), `${agentA}\n`);
  assert.equal(await ask(link), 'AGENT-A');
  await detachByKeys(a);

  const b = await reattach(sb, 'ag', { SSH_AUTH_SOCK: agentB });
  await waitUntil(() => readlinkOrNull(link) === agentB, { message: 'the link to point at agent B' });
  assert.equal(await shellRun(b, 'echo "$SSH_AUTH_SOCK"; readlink "$SSH_AUTH_SOCK"'), `${link}\n${agentB}\n`);
  assert.equal(await ask(link), 'AGENT-B', 'connecting through the link reaches the new agent');
  assert.ok(lstatSync(link).isSymbolicLink());
  await detachByKeys(b);

  // A client without an agent: the link goes, instead of pointing at a stale agent.
  const c = await reattach(sb, 'ag', { SSH_AUTH_SOCK: undefined });
  await waitUntil(() => !existsSync(link) && readlinkOrNull(link) === null, { message: 'the link to be removed' });
  assert.equal(await shellRun(c, 'test -e "$SSH_AUTH_SOCK" || echo gone'), 'gone\n');
});

test("nosymlink_ssh_auth_sock = true: the shell gets the creating client's SSH_AUTH_SOCK as is", async (t) => {
  const sb = await makeSandbox(t, { config: 'nosymlink_ssh_auth_sock = true\n' });
  const agentA = sb.path('agent-a.sock');
  const agentB = sb.path('agent-b.sock');
  await fakeAgent(t, agentA, 'AGENT-A');
  await fakeAgent(t, agentB, 'AGENT-B');
  const a = await sb.attachShell('ns', { env: { SSH_AUTH_SOCK: agentA } });
  assert.equal(await shellRun(a, 'echo "$SSH_AUTH_SOCK"'), `${agentA}\n`);
  await detachByKeys(a);
  const b = await reattach(sb, 'ns', { SSH_AUTH_SOCK: agentB });
  assert.equal(await shellRun(b, 'echo "$SSH_AUTH_SOCK"; ls -A "$TSHPOOL_SESSION_DIR"'), `${agentA}\nforward.env\n`, 'no link is made');
});

test('forward.env (0600) is rewritten on each attach with the new client’s forwarded values and can be sourced by sh', async (t) => {
  const sb = await makeSandbox(t, { config: 'forward_env = ["MYVAR"]\n' });
  const tricky = `it's $(touch PWNED) "q" \`touch PWNED\` \\ $HOME`;
  const a = await sb.attachShell('fe', { env: { LANG: 'C.UTF-8', MYVAR: tricky } });
  const dir = procEnv((await sb.session('fe')).pid).TSHPOOL_SESSION_DIR;
  const file = join(dir, 'forward.env');
  await waitUntil(() => existsSync(file), { message: 'forward.env' });
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const source = () => execFileSync('/bin/sh', ['-c', '. "$1"; printf "%s|%s|%s" "$LANG" "$MYVAR" "$TERM"', 'sh', file], { cwd: sb.dir, encoding: 'utf8', env: { PATH: '/usr/bin:/bin', HOME: sb.home } });
  assert.equal(source(), `C.UTF-8|${tricky}|xterm-256color`);
  assert.equal(existsSync(sb.path('PWNED')) || existsSync(sb.path('h', 'PWNED')), false, 'sourcing runs nothing');
  await detachByKeys(a);

  const b = await reattach(sb, 'fe', { LANG: 'en_US.UTF-8', MYVAR: 'second' });
  await waitUntil(() => readFileSync(file, 'utf8').includes('en_US.UTF-8'), { message: 'forward.env rewritten for the new client' });
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(source(), 'en_US.UTF-8|second|xterm-256color');
  // The use case: the running shell picks up the new client's values.
  assert.equal(await shellRun(b, 'echo "$LANG"; . "$TSHPOOL_SESSION_DIR/forward.env"; echo "$LANG $MYVAR"'), 'C.UTF-8\nen_US.UTF-8 second\n');
  assert.equal(existsSync(sb.path('h', 'PWNED')), false);
});
