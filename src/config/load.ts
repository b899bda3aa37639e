/**
 * Reads, validates and merges config files. The user's file overrides
 * /etc/tshpool/config.toml key by key (top-level keys); `--config-file` uses one
 * file alone. Errors name the file, line and key; unknown keys are warnings.
 */
import { readFileSync } from 'node:fs';
import { parse, TomlError } from 'smol-toml';
import { DEFAULT_CONFIG, KEYS, TypeProblem, type Config } from './schema.js';

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
      throw new ConfigError(`invalid TOML in ${at(file, err.line)}: ${err.message.split('\n')[0]}`);
    }
    throw new ConfigError(`invalid TOML in ${file}: ${(err as Error).message}`);
  }
  const out: Partial<Config> = {};
  for (const [key, value] of Object.entries(raw)) {
    const check = (KEYS as Record<string, (v: unknown) => unknown>)[key];
    if (!check) {
      warnings.push(`${at(file, lineOf(source, null, key))}: unknown key '${key}' ignored`);
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

function readIfExists(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
}

/**
 * Loads the configuration. With `explicitFile`, that file alone (it must exist);
 * otherwise `systemFile` then `userFile`, both optional. Synchronous: called at
 * start-up and by the client, never on a daemon serving path.
 */
export function loadConfig(opts: { explicitFile?: string | null; systemFile: string; userFile: string }): LoadedConfig {
  const warnings: string[] = [];
  const files: string[] = [];
  const layers: Partial<Config>[] = [];
  const candidates = opts.explicitFile ? [opts.explicitFile] : [opts.systemFile, opts.userFile];
  for (const file of candidates) {
    const text = readIfExists(file);
    if (text === null) {
      if (opts.explicitFile) throw new ConfigError(`config file ${file} does not exist`);
      continue;
    }
    files.push(file);
    layers.push(parseConfigText(text, file, warnings));
  }
  const config: Config = { ...DEFAULT_CONFIG };
  for (const layer of layers) Object.assign(config, layer);
  return { config, files, warnings };
}
