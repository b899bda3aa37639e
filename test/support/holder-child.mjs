/**
 * A stand-in for a daemon that can be SIGKILLed: a HolderClient in a process of
 * its own. Spawns each given session, prints one JSON line
 * {"ready":true,"holderPid":N,"sessions":[{"key","pid"}]} and then waits to be killed.
 *
 *   node holder-child.mjs SOCKET LOG HOLDER_BIN '[{"key":"k","script":"cat"}]'
 */
import { HolderClient } from '../../dist/daemon/holder/holder-client.js';
import { shell, SIZE } from './holder.mjs';

const [socketPath, logPath, executable, sessionsJson] = process.argv.slice(2);
const client = new HolderClient({ socketPath, logPath, executable });
const { holderPid } = await client.start();
const sessions = [];
for (const { key, script } of JSON.parse(sessionsJson)) {
  const pty = await client.spawn(key, shell(script), SIZE);
  sessions.push({ key, pid: pty.pid });
}
process.stdout.write(`${JSON.stringify({ ready: true, holderPid, sessions })}\n`);
setInterval(() => {}, 60_000);
