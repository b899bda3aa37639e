#!/usr/bin/env node
// Writes man/tshpool.1 from the commander definitions behind --help (run after a build:
// `npm run man`). test/unit/manpage.test.mjs fails when the committed page is out of date.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function renderManPageText() {
  const { programForDocs } = await import(join(root, 'dist/cli.js'));
  const { renderManPage } = await import(join(root, 'dist/manpage.js'));
  const { VERSION } = await import(join(root, 'dist/version.js'));
  return renderManPage(programForDocs(), VERSION, {
    exitCodes: [
      ['0', 'success; or the client detached (keybinding, tshpool detach, displaced by attach -f)'],
      ['1', 'an error: not found, not attached, the daemon unreachable or gone, invalid config'],
      ['2', 'a usage error: unknown option, invalid session name, --ttl, --cmd or --hook'],
      ['3', 'attach: the session is busy (another terminal is attached; use -f)'],
      ['N', "attach: the session's shell exited with status N"],
      ['128+N', 'attach: the shell was killed by signal N (129 after tshpool kill)'],
    ],
    files: [
      ['$XDG_RUNTIME_DIR/tshpool/tshpool.socket', 'the daemon socket (or ${TMPDIR:-/tmp}/tshpool-UID/ when XDG_RUNTIME_DIR is unset)'],
      ['$XDG_RUNTIME_DIR/tshpool/tshpool.log', "the daemon's log (rotated to tshpool.log.1 at 10 MiB)"],
      ['$XDG_RUNTIME_DIR/tshpool/sessions/NAME/', 'TSHPOOL_SESSION_DIR: the ssh-auth-sock symlink and forward.env'],
      ['~/.config/tshpool/config.toml', 'the user configuration (over /etc/tshpool/config.toml)'],
    ],
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  mkdirSync(join(root, 'man'), { recursive: true });
  writeFileSync(join(root, 'man', 'tshpool.1'), await renderManPageText());
  console.log('wrote man/tshpool.1');
}
