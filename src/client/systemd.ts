/**
 * `tshpool systemd install`: writes the user units (a socket that starts the
 * daemon on first use, and the service) with ExecStart pointing at this tshpool.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ExitCode } from './errors.js';

const UNIT_DIR_PARTS = ['systemd', 'user'];

export async function installSystemdUnits(opts: { script: string; printOnly: boolean }): Promise<number> {
  const unitsSource = new URL('../../systemd/', import.meta.url);
  const socketUnit = await readFile(new URL('tshpool.socket', unitsSource), 'utf8');
  const serviceUnit = (await readFile(new URL('tshpool.service', unitsSource), 'utf8')).replace(
    /^ExecStart=.*$/m,
    `ExecStart=${process.execPath} ${opts.script} daemon`,
  );
  if (opts.printOnly) {
    process.stdout.write(`# tshpool.socket\n${socketUnit}\n# tshpool.service\n${serviceUnit}`);
    return ExitCode.Ok;
  }
  const dir = join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), ...UNIT_DIR_PARTS);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'tshpool.socket'), socketUnit);
  await writeFile(join(dir, 'tshpool.service'), serviceUnit);
  process.stdout.write(
    `wrote ${join(dir, 'tshpool.socket')} and ${join(dir, 'tshpool.service')}\n` +
      'enable them with:\n  systemctl --user daemon-reload && systemctl --user enable --now tshpool.socket\n' +
      'Sessions started by systemd get the user manager\'s PATH: set initial_path in the config if you need more.\n',
  );
  return ExitCode.Ok;
}
