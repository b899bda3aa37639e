/**
 * Reads, validates and merges config files. The user's file overrides
 * /etc/tshpool/config.toml key by key (top-level keys); `--config-file` uses one
 * file alone. Errors name the file, line and key; unknown keys are warnings.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { DEFAULT_CONFIG, KEYS, TypeProblem, type Config } from './schema.js';

// smol-toml's CommonJS build loads in ~2 ms, its ESM module graph in ~12 ms; every
// command reads the config at start-up.
const { parse, TomlError } = createRequire(import.meta.url)('smol-toml') as typeof import('smol-toml');

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface LoadedConfig {
  config: Config;
  /** Files actually read, in order of increasing priority. */
  files: string[];
  warnings: string[];
}

/** The 1-based line where `key` (below table `table`, if any) is assigned, or null. */
function lineOf(source: string, table: string | null, key: string, index = 0): number | null {
  const lines = source.split('\n');
  let current: string | null = null;
  let seen = -1;
  const esc = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const assign = new RegExp(`^\\s*["']?${esc}["']?\\s*=`);
  for (let i = 0; i < lines.length; i++) {
    const header = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?/.exec(lines[i]!);
    if (header) {
      current = header[1]!;
      if (current === table) seen++;
      if (table === null && current === key) return i + 1;
      continue;
    }
    if (table === null ? current === null : current === table && seen === index) {
      if (assign.test(lines[i]!)) return i + 1;
    }
  }
  // Inline tables / dotted keys: fall back to the first mention.
  const any = lines.findIndex((l) => l.includes(key));
  return any >= 0 ? any + 1 : null;
}

function at(file: string, line: number | null): string {
  return line === null ? file : `${file}, line ${line}`;
}

/** Parses and validates one file's text into a partial config. */
export function parseConfigText(source: string, file: string, warnings: string[]): Partial<Config> {
  let raw: Record<string, unknown>;
  try {
    raw = parse(source) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const key = /^\s*["']?([A-Za-z0-9_.-]+)["']?\s*=/.exec(source.split('\n')[err.line - 1] ?? '')?.[1];
      throw new ConfigError(`invalid TOML in ${at(file, err.line)}${key ? `, key '${key}'` : ''}: ${err.message.split('\n')[0]}`);
    }
    throw new ConfigError(`invalid TOML in ${file}: ${(err as Error).message}`);
  }
  const out: Partial<Config> = {};
  for (const [key, value] of Object.entries(raw)) {
    const check = (KEYS as Record<string, (v: unknown) => unknown>)[key];
    if (!check) {
      const near = likelyKey(key, Object.keys(KEYS));
      warnings.push(`${at(file, lineOf(source, null, key))}: unknown key '${key}' ignored${near ? ` (did you mean '${near}'?)` : ''}`);
      continue;
    }
    try {
      (out as Record<string, unknown>)[key] = check(value);
    } catch (err) {
      if (!(err instanceof TypeProblem)) throw err;
      const [first, second] = err.subPath;
      const isArrayOfTables = first !== undefined && /^\d+$/.test(first) && second !== undefined;
      const line = isArrayOfTables
        ? lineOf(source, key, second, Number(first))
        : first !== undefined
          ? (lineOf(source, key, first) ?? lineOf(source, null, key))
          : lineOf(source, null, key);
      const keyPath = [key, ...err.subPath.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))].join('').replace(/\.\[/g, '[');
      throw new ConfigError(`invalid config in ${at(file, line)}, key '${keyPath}': ${err.message}`);
    }
  }
  return out;
}

function missing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * Config files are opened O_NONBLOCK and must be regular files: a FIFO (or a
 * device) at the config path would otherwise block the open — at each hot reload
 * one libuv pool thread, until new sessions and the log hang with them.
 */
const CONFIG_OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

function notRegular(file: string): ConfigError {
  return new ConfigError(`config file ${file} is not a regular file (a FIFO, device or directory); replace it with a file`);
}

function readIfExists(file: string): string | null {
  let fd: number;
  try {
    fd = openSync(file, CONFIG_OPEN_FLAGS);
  } catch (err) {
    if (missing(err)) return null;
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  try {
    if (!fstatSync(fd).isFile()) throw notRegular(file);
    return readFileSync(fd, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

async function readIfExistsAsync(file: string): Promise<string | null> {
  let fh;
  try {
    fh = await open(file, CONFIG_OPEN_FLAGS);
  } catch (err) {
    if (missing(err)) return null;
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  try {
    if (!(await fh.stat()).isFile()) throw notRegular(file);
    return await fh.readFile('utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  } finally {
    await fh.close();
  }
}

/** Which files make up the configuration. */
export interface ConfigSources {
  /** `--config-file`: this file alone (it must exist). */
  explicitFile?: string | null;
  systemFile: string;
  userFile: string;
}

/** The files to read, in order of increasing priority. */
export function configCandidates(opts: ConfigSources): string[] {
  return opts.explicitFile ? [opts.explicitFile] : [opts.systemFile, opts.userFile];
}

function merge(opts: ConfigSources, texts: (string | null)[]): LoadedConfig {
  const warnings: string[] = [];
  const files: string[] = [];
  const config: Config = { ...DEFAULT_CONFIG };
  configCandidates(opts).forEach((file, i) => {
    const text = texts[i] ?? null;
    if (text === null) {
      if (opts.explicitFile) throw new ConfigError(`config file ${file} does not exist`);
      return;
    }
    files.push(file);
    Object.assign(config, parseConfigText(text, file, warnings));
  });
  return { config, files, warnings };
}

/**
 * Loads the configuration. With `explicitFile`, that file alone (it must exist);
 * otherwise `systemFile` then `userFile`, both optional. Synchronous: for the
 * client and daemon start-up; the running daemon reloads with loadConfigAsync.
 */
export function loadConfig(opts: ConfigSources): LoadedConfig {
  return merge(opts, configCandidates(opts).map(readIfExists));
}

/** loadConfig without blocking the event loop (the daemon's hot reload). */
export async function loadConfigAsync(opts: ConfigSources): Promise<LoadedConfig> {
  return merge(opts, await Promise.all(configCandidates(opts).map(readIfExistsAsync)));
}

/** The known key closest to a misspelt one (at most 2 edits, or one a prefix of the other), else null. */
export function likelyKey(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = k.startsWith(key) || key.startsWith(k) ? Math.abs(k.length - key.length) : editDistance(key, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return bestDistance <= 2 ? best : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}
