// End-to-end: hook commands from the config's [hooks] table and from
// `attach --hook NAME=CMD` — what they receive (environment, the event as JSON on
// stdin), the timeout that kills them, failures in the log and `status`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { isAlive, makeSandbox, waitUntil } from '../support/sandbox.mjs';
import { DETACH, ProtocolClient, attachRequest, ensureDaemon, readLog, waitForLog, waitForStatus } from '../support/hooks-recorder.mjs';

const readIf = (file) => (existsSync(file) ? readFileSync(file, 'utf8') : null);

/** A TOML basic string holding `s` (the paths used here have no quotes or backslashes). */
const toml = (s) => JSON.stringify(s);

test('config hook commands get TSHPOOL_HOOK, TSHPOOL_SESSION_NAME, the daemon environment and the event as JSON on stdin', async (t) => {
  const sb = await makeSandbox(t);
  const out = sb.path('out');
  const log = sb.path('hooks.log');
  // The command runs without a shell unless asked for one; it writes env last (via rename) so a complete file means it finished.
  sb.writeConfig(
    [
      '[hooks]',
      `on_new_session = [${toml(`sh -c 'cat > ${out}.json; env > ${out}.tmp; mv ${out}.tmp ${out}.env'`)}, ${toml(`touch ${out}.second`)}]`,
      ...['on_reattach', 'on_busy', 'on_client_disconnect', 'on_shell_disconnect'].map(
        (h) => `${h} = ${toml(`sh -c 'echo "$TSHPOOL_HOOK $TSHPOOL_SESSION_NAME $(cat)" >> ${log}'`)}`,
      ),
      '',
    ].join('\n'),
  );
  await ensureDaemon(sb);
  const a = await sb.attachShell('cmd1');
  const [{ pid: shellPid }] = await sb.list();
  const env = await waitUntil(() => readIf(`${out}.env`), { message: 'the on_new_session command to finish' });
  const vars = Object.fromEntries(env.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  assert.equal(vars.TSHPOOL_HOOK, 'on_new_session');
  assert.equal(vars.TSHPOOL_SESSION_NAME, 'cmd1');
  assert.equal(vars.HOME, sb.home, "the daemon's environment");
  assert.equal(vars.XDG_RUNTIME_DIR, sb.runtimeDir);
  const event = JSON.parse(readFileSync(`${out}.json`, 'utf8'));
  assert.equal(typeof event.at, 'number');
  assert.deepEqual({ ...event, at: 0, seq: 0 }, { seq: 0, type: 'session.created', session: 'cmd1', sessionName: 'cmd1', at: 0, shellPid, clientPid: a.pid });
  assert.equal(vars.TSHPOOL_EVENT, 'session.created');
  assert.equal(vars.TSHPOOL_SHELL_PID, String(shellPid));
  assert.equal(vars.TSHPOOL_CLIENT_PID, String(a.pid));
  assert.equal(vars.TSHPOOL_REASON, undefined);
  // Every command of the list runs.
  await waitUntil(() => existsSync(`${out}.second`), { message: 'the second on_new_session command' });

  // The other hook names, through one lifecycle: busy, detach, reattach, exit.
  const lines = async (n) => (await waitUntil(() => (readIf(log) ?? '').split('\n').filter(Boolean).length >= n && readIf(log), { message: `${n} hook command lines` })).split('\n').filter(Boolean);
  const busy = sb.spawnTerm(['attach', 'cmd1']);
  assert.equal((await busy.waitExit()).exitCode, 3);
  await lines(1);
  a.write(DETACH);
  await a.waitExit();
  await lines(2);
  const b = await sb.attachShell('cmd1');
  await lines(3);
  b.write('exit 2\r');
  await b.waitExit();
  const got = (await lines(5)).map((l) => {
    const [hook, name, ...json] = l.split(' ');
    const ev = JSON.parse(json.join(' '));
    return [hook, name, ev.type, ev.reason ?? null, ev.clientPid ?? null, ev.exitCode ?? null];
  });
  // The last two come from one moment (the shell exited while attached): their commands run side by side.
  got.push(...got.splice(3).sort((x, y) => x[0].localeCompare(y[0])));
  assert.deepEqual(got, [
    ['on_busy', 'cmd1', 'session.busy', null, busy.pid, null],
    ['on_client_disconnect', 'cmd1', 'session.detached', 'detach', a.pid, null],
    ['on_reattach', 'cmd1', 'session.attached', null, b.pid, null],
    ['on_client_disconnect', 'cmd1', 'session.detached', 'exit', b.pid, null],
    ['on_shell_disconnect', 'cmd1', 'session.removed', 'exit', null, 2],
  ]);
  const st = await waitForStatus(sb, (s) => s.hooksInFlight === 0 && s.hooks['on_shell_disconnect command']?.calls === 1);
  assert.equal(st.hooks['on_new_session command'].calls, 2);
  assert.equal(st.hooks['on_client_disconnect command'].calls, 2);
  for (const h of Object.values(st.hooks)) assert.equal(h.errors + h.timeouts, 0, JSON.stringify(st.hooks));
});

test('a hook command that runs past [hooks] timeout is killed and the timeout logged; the prompt is not delayed', async (t) => {
  const sb = await makeSandbox(t);
  const pidFile = sb.path('hook.pid');
  sb.writeConfig(`[hooks]\ntimeout = "1s"\non_new_session = [${toml(`sh -c 'echo $$ > ${pidFile}; exec sleep 30'`)}]\n`);
  await ensureDaemon(sb);
  const started = Date.now();
  await sb.attachShell('slow');
  const ms = Date.now() - started;
  assert.ok(ms < 2000, `the prompt took ${ms} ms`);
  const pid = Number(await waitUntil(() => readIf(pidFile)?.trim(), { message: 'the hook command to start' }));
  await waitForLog(sb, /WARN +hook command timed out; killed its process group hook="on_new_session command" session="slow"/);
  await waitUntil(() => !isAlive(pid), { timeout: 5000, message: `the timed-out hook command (pid ${pid}) to be killed` });
  const st = await waitForStatus(sb, (s) => s.hooksInFlight === 0);
  assert.equal(st.hooks['on_new_session command'].timeouts, 1);
  assert.equal(st.hooks['on_new_session command'].errors, 0);
  assert.equal((await sb.list())[0].name, 'slow', 'the session lives on');
});

test('a failing hook command (exit 3) is logged with its output and counted', async (t) => {
  const sb = await makeSandbox(t);
  sb.writeConfig(`[hooks]\non_new_session = ["sh -c 'echo oops-from-hook; exit 3'"]\n`);
  await ensureDaemon(sb);
  await sb.runOk(['attach', '-b', 'f']);
  await waitForLog(sb, /WARN +hook command failed hook="on_new_session command" session="f" error="sh -c 'echo oops-from-hook; exit 3': exited with status 3"/);
  assert.match(readLog(sb), /hook command output hook="on_new_session command" session="f" command="sh -c 'echo oops-from-hook; exit 3'" output="oops-from-hook"/);
  const st = await waitForStatus(sb, (s) => s.hooks['on_new_session command']?.errors === 1);
  assert.equal(st.hooks['on_new_session command'].lastError, "sh -c 'echo oops-from-hook; exit 3': exited with status 3");
  assert.equal((await sb.list()).length, 1, 'the session is unaffected');
});

test('hook commands run at most 4 at once; a burst queues and every command runs', async (t) => {
  const sb = await makeSandbox(t);
  const dir = sb.path('slots');
  mkdirSync(dir);
  // Each command marks itself running, counts the running ones, holds its slot 400 ms, then clears its mark.
  sb.writeConfig(`[hooks]\non_new_session = [${toml(`sh -c 'touch ${dir}/run.$$; ls ${dir} | grep -c run > ${dir}/count.$$; sleep 0.4; rm ${dir}/run.$$'`)}]\n`);
  await ensureDaemon(sb);
  // Eight sessions in one burst, straight through the protocol (no client start-up in between).
  const started = Date.now();
  const replies = await Promise.all(
    Array.from({ length: 8 }, async (_, i) => {
      const c = await ProtocolClient.open(sb);
      c.send(attachRequest(`b${i}`, { background: true, cmd: ['sleep', '60'] }));
      const reply = await c.next();
      c.close();
      return reply.type;
    }),
  );
  assert.deepEqual(replies, Array(8).fill('attached'));
  const st = await waitForStatus(sb, (s) => s.hooksInFlight === 0 && s.hooks['on_new_session command']?.calls === 8);
  const elapsed = Date.now() - started;
  assert.equal(st.hooks['on_new_session command'].errors + st.hooks['on_new_session command'].timeouts, 0, JSON.stringify(st.hooks));
  const counts = readdirSync(dir).filter((f) => f.startsWith('count.')).map((f) => Number(readFileSync(`${dir}/${f}`, 'utf8')));
  assert.equal(counts.length, 8, 'every command ran');
  assert.ok(Math.max(...counts) <= 4, `at most 4 at once, saw ${JSON.stringify(counts)}`);
  assert.ok(elapsed >= 800, `8 commands of 400 ms, 4 at a time, take two rounds (took ${elapsed} ms)`);
});

test('attach --hook NAME=CMD runs for that session only, in addition to the config commands', async (t) => {
  const sb = await makeSandbox(t);
  const mine = sb.path('mine-ended');
  const fromConfig = sb.path('config-ended');
  sb.writeConfig(`[hooks]\non_shell_disconnect = [${toml(`sh -c 'echo $TSHPOOL_SESSION_NAME >> ${fromConfig}'`)}]\n`);
  await ensureDaemon(sb);
  await sb.runOk(['attach', '-b', '--hook', `on_shell_disconnect=touch ${mine}`, 'withhook']);
  await sb.runOk(['attach', '-b', 'other']);
  // The other session ends first: only the config command runs for it.
  await sb.runOk(['kill', 'other']);
  await waitUntil(() => readIf(fromConfig) === 'other\n', { message: "the config command for 'other'" });
  await waitForStatus(sb, (s) => s.hooksInFlight === 0);
  assert.equal(existsSync(mine), false, "the per-session hook did not run for 'other'");
  // Now the session that has it.
  await sb.runOk(['kill', 'withhook']);
  await waitUntil(() => existsSync(mine), { message: 'the per-session hook command' });
  await waitUntil(() => readIf(fromConfig) === 'other\nwithhook\n', { message: "the config command for 'withhook'" });
  const st = await waitForStatus(sb, (s) => s.hooksInFlight === 0);
  assert.equal(st.hooks['on_shell_disconnect command'].calls, 3);
  assert.equal(st.hooks['on_shell_disconnect command'].errors, 0);
});

test('attach --hook with an unknown hook name or no command is a usage error (exit 2), before any daemon starts', async (t) => {
  const sb = await makeSandbox(t);
  for (const hook of ['bogus=x', 'on_new_session=', 'on_new_session']) {
    const r = await sb.run(['attach', '-b', '--hook', hook, 's']);
    assert.equal(r.code, 2, `--hook ${hook}: ${r.stderr}`);
    assert.match(r.stderr, /invalid --hook/);
    assert.match(r.stderr, /on_new_session, on_reattach, on_busy, on_client_disconnect, on_shell_disconnect, on_viewer_join, on_viewer_leave, before_new_session, before_attach/);
  }
  assert.match((await sb.run(['version'])).stdout, /daemon: not running/);
});
