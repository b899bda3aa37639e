/**
 * Hot reload: the daemon polls its config files' metadata (fs.watchFile, async
 * stat) so creating, editing or replacing a file — as editors do by rename — is
 * noticed, even when the file or its directory does not exist yet. Changes are
 * debounced and reloaded without blocking; a file that fails to parse keeps the
 * old configuration in force.
 */
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { configCandidates, loadConfigAsync, type ConfigSources, type LoadedConfig } from './load.js';

/** Poll interval for the config files' metadata. */
export const CONFIG_POLL_MS = 500;
/** Editors write in several steps; reload once they are done. */
export const CONFIG_DEBOUNCE_MS = 100;

export interface ConfigWatcher {
  close(): void;
}

export function watchConfig(
  sources: ConfigSources,
  onLoaded: (loaded: LoadedConfig) => void,
  onError: (err: Error) => void,
): ConfigWatcher {
  const files = configCandidates(sources);
  let timer: NodeJS.Timeout | null = null;
  const reload = (): void => {
    timer = null;
    loadConfigAsync(sources).then(onLoaded, onError);
  };
  const changed = (curr: Stats, prev: Stats): void => {
    if (curr.mtimeMs === prev.mtimeMs && curr.size === prev.size && curr.ino === prev.ino) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(reload, CONFIG_DEBOUNCE_MS);
  };
  for (const f of files) watchFile(f, { interval: CONFIG_POLL_MS, persistent: false }, changed);
  return {
    close() {
      if (timer) clearTimeout(timer);
      for (const f of files) unwatchFile(f, changed);
    },
  };
}
