/**
 * Reading /proc: the process table, a process's memory (RSS, PSS) and CPU time,
 * and finding every process that belongs to a sandbox.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second for /proc/PID/stat times (USER_HZ is 100 on every Linux we run on). */
export const CLK_TCK = 100;

/** Parses /proc/PID/stat: { pid, comm, state, ppid, cpuTicks } or null. */
export function procStat(pid) {
  let s;
  try {
    s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const close = s.lastIndexOf(')');
  const comm = s.slice(s.indexOf('(') + 1, close);
  const f = s.slice(close + 2).split(' ');
  // f[0] = state (field 3); utime = field 14, stime = field 15 => f[11], f[12].
  return { pid, comm, state: f[0], ppid: Number(f[1]), cpuTicks: Number(f[11]) + Number(f[12]) };
}

export function isAlive(pid) {
  const st = procStat(pid);
  return st !== null && st.state !== 'Z' && st.state !== 'X';
}

export function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

function environ(pid) {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return '';
  }
}

export function allPids() {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/**
 * Live processes belonging to a sandbox: those whose environment carries one of
 * `envNeedles` (the sandbox marker, its HOME) and all their descendants.
 */
export function sandboxProcs(envNeedles) {
  const stats = allPids()
    .map(procStat)
    .filter((s) => s && s.state !== 'Z' && s.state !== 'X');
  const children = new Map();
  for (const s of stats) {
    if (!children.has(s.ppid)) children.set(s.ppid, []);
    children.get(s.ppid).push(s);
  }
  const found = new Map();
  const add = (s) => {
    if (found.has(s.pid) || s.pid === process.pid) return;
    found.set(s.pid, s);
    for (const c of children.get(s.pid) ?? []) add(c);
  };
  for (const s of stats) {
    if (s.pid === process.pid) continue;
    const env = environ(s.pid);
    if (env && envNeedles.some((n) => env.includes(`\0${n}\0`) || env.startsWith(`${n}\0`) || env.endsWith(`\0${n}`))) add(s);
  }
  return [...found.values()];
}

/** RSS and PSS of one process in KiB (smaps_rollup), zeros when it is gone. */
export function memoryKiB(pid) {
  let rss = 0;
  let pss = 0;
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    rss = Number(/^Rss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
    pss = Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
  } catch {
    try {
      rss = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return { rss, pss };
}

/** Summed RSS/PSS of `pids` in MiB. */
export function memoryMiB(pids) {
  let rss = 0;
  let pss = 0;
  for (const pid of pids) {
    const m = memoryKiB(pid);
    rss += m.rss;
    pss += m.pss;
  }
  return { rss: rss / 1024, pss: pss / 1024 };
}

/** Summed user+system CPU ticks of `pids`, per pid. */
export function cpuTicks(pids) {
  const out = new Map();
  for (const pid of pids) {
    const st = procStat(pid);
    if (st) out.set(pid, st.cpuTicks);
  }
  return out;
}

/** Sends `signal` to every pid, ignoring those already gone. */
export function signalAll(pids, signal) {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone
    }
  }
}
