/**
 * Slow client: the attached client stops reading (SIGSTOP on the client process
 * and the benchmark stops reading its pty) for the stall while a flood runs.
 *  - blocked: did the program stop making progress (slow.sh writes its progress
 *    to a file after every chunk; it is sampled every 100 ms)?
 *  - the server's CPU during the stall (/proc utime+stime; % of one core), and
 *    after the flood finished if it did (spinning);
 *  - time from resuming until the client shows the end marker (the final screen);
 *  - echo in another attached session before and during the stall.
 * The bare pty only stops reading (its "client" is the benchmark itself).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLK_TCK, cpuTicks } from '../procs.mjs';
import { nowMs, percentiles, sleep, token } from '../util.mjs';
import { closeSession, execCat, measureEcho, openShell } from './common.mjs';

const readInt = (file) => {
  try {
    const n = parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isFinite(n) ? n : 0;
  } catch {
    return 0;
  }
};

/** A client that received nothing for this long after resuming will not show the final screen any more. */
const QUIET_GIVE_UP_MS = 3000;

const ticksSum = (before, after) => {
  let sum = 0;
  for (const [pid, t] of after) if (before.has(pid)) sum += t - before.get(pid);
  return sum;
};

export default {
  id: 'slow',
  title: 'Slow client',
  heavy: true,
  describe: (s) =>
    `the attached client stops reading for ${s.stallMs / 1000} s while \`seq 1 ${s.slowLines}\` runs (started at the beginning of the stall). Blocked = the program made no progress in the last half of the stall without having finished. CPU = the server's, % of one core over the stall ("after flood": from the flood's end to the end of the stall). Resume = from resuming until the end marker is on the client's screen. Probe = echo in another attached session before / during the stall.`,
  metrics: [
    { key: 'blocked', label: 'blocked', ratio: false, kind: 'bool' },
    { key: 'progress_pct', label: 'progress at stall end %', ratio: false },
    { key: 'cpu_pct', label: 'server CPU % in stall', ratio: false },
    { key: 'cpu_after_flood_pct', label: 'CPU % after flood', ratio: false },
    { key: 'resume_ms', label: 'resume → final screen ms', ratio: true },
    { key: 'probe_before_p50_us', label: 'probe p50 µs before', ratio: false },
    { key: 'probe_stall_p50_us', label: 'probe p50 µs in stall', ratio: false },
    { key: 'probe_before_p99_us', label: 'probe p99 µs before', ratio: false },
    { key: 'probe_stall_p99_us', label: 'probe p99 µs in stall', ratio: false },
  ],
  applies: () => null,

  async rep({ tool, sb, sizes }) {
    try {
      return await this.once({ tool, sb, sizes });
    } finally {
      await sb.reset();
    }
  },

  async once({ tool, sb, sizes }) {
    const tag = token(6);
    const name = `slow-${tag}`;
    const probeName = `probe-${tag}`;
    const isBare = tool.kind === 'bare';
    const term = await openShell(tool, sb, name);
    let probe = null;
    const sampler = { timer: null };
    try {
      if (!isBare) {
        probe = await openShell(tool, sb, probeName);
        await execCat(probe);
      }
      const dir = sb.scratch('slow');
      const waiting = term.waitFor(`WAIT_${tag}`, 10_000, 'slow.sh to start');
      term.write(`sh ${join(sb.bin, 'slow.sh')} ${dir} ${sizes.slowLines} ${sizes.slowChunk} ${tag}\r`);
      await waiting;
      await sleep(100);
      const before = probe ? percentiles(await measureEcho(probe, { count: sizes.probeKeys, gapMs: 10 })) : null;

      // The stall.
      const servers = isBare ? [] : tool.serverPids(sb);
      term.pause();
      if (!isBare) process.kill(term.pid, 'SIGSTOP');
      const t0 = nowMs();
      const cpu0 = cpuTicks(servers);
      const samples = [];
      const sample = () => samples.push({ t: nowMs() - t0, progress: readInt(join(dir, 'progress')), done: readInt(join(dir, 'done')) > 0, cpu: cpuTicks(servers) });
      writeFileSync(join(dir, 'go'), '');
      sampler.timer = setInterval(sample, 100);
      const stallEnd = t0 + sizes.stallMs;
      let during = null;
      if (probe) {
        during = await measureEcho(probe, { untilMs: stallEnd, timeoutMs: sizes.stallMs + 5000, gapMs: 20 });
      }
      while (nowMs() < stallEnd) await sleep(Math.min(50, Math.max(1, stallEnd - nowMs())));
      clearInterval(sampler.timer);
      sampler.timer = null;
      sample();
      const elapsedS = (nowMs() - t0) / 1000;
      const last = samples.at(-1);
      const cpu1 = last.cpu;

      const mid = samples.find((s) => s.t >= sizes.stallMs / 2) ?? last;
      const finished = last.done;
      const blocked = !finished && last.progress === mid.progress;
      const firstDone = samples.find((s) => s.done);
      let cpuAfter = null;
      if (!isBare && firstDone && last.t - firstDone.t >= 300) {
        cpuAfter = (ticksSum(firstDone.cpu, cpu1) / CLK_TCK / ((last.t - firstDone.t) / 1000)) * 100;
      }

      // Resume and wait for the final screen.
      const endMark = term.waitFor(`END_${tag}`, sizes.floodTimeoutMs, `END_${tag} (the final screen) after resuming`);
      if (!isBare) process.kill(term.pid, 'SIGCONT');
      term.resume();
      const tr = nowMs();
      let resumeMs = null;
      let resumeError = null;
      // Give up early once the client has received nothing for QUIET_GIVE_UP_MS: the end marker is not coming.
      let lastBytes = term.bytes;
      let lastChange = nowMs();
      const quiet = setInterval(() => {
        if (term.bytes !== lastBytes) {
          lastBytes = term.bytes;
          lastChange = nowMs();
        } else if (nowMs() - lastChange > QUIET_GIVE_UP_MS) {
          clearInterval(quiet);
          quietReject(new Error(`the client received nothing for ${QUIET_GIVE_UP_MS / 1000} s after resuming and never showed the end marker`));
        }
      }, 100);
      let quietReject;
      const quietP = new Promise((_, reject) => (quietReject = reject));
      try {
        resumeMs = (await Promise.race([endMark, quietP])).at - tr;
      } catch (err) {
        resumeError = err.message.split('; last output')[0];
        endMark.catch(() => {});
      } finally {
        clearInterval(quiet);
      }
      const stallP = during ? percentiles(during) : null;
      const out = {
        blocked: blocked ? 1 : 0,
        finished_in_stall: finished ? 1 : 0,
        progress_pct: (100 * (finished ? sizes.slowLines : last.progress)) / sizes.slowLines,
        cpu_pct: isBare ? null : (ticksSum(cpu0, cpu1) / CLK_TCK / elapsedS) * 100,
        cpu_after_flood_pct: cpuAfter,
        resume_ms: resumeMs,
        probe_before_p50_us: before?.p50 ?? null,
        probe_before_p99_us: before?.p99 ?? null,
        probe_stall_p50_us: stallP?.p50 ?? null,
        probe_stall_p99_us: stallP?.p99 ?? null,
      };
      if (resumeError) out.note = `final screen not shown: ${resumeError}`;
      return out;
    } finally {
      if (sampler.timer) clearInterval(sampler.timer);
      try {
        process.kill(term.pid, 'SIGCONT');
      } catch {
        // gone
      }
      await closeSession(tool, sb, name, term);
      if (probe) await closeSession(tool, sb, probeName, probe);
    }
  },
};
