/**
 * A session's private directory ($TSHPOOL_SESSION_DIR): the stable SSH agent
 * symlink the shell's SSH_AUTH_SOCK points at, re-pointed at the newest client's
 * agent on every attach, and forward.env, the newest client's forwarded variables
 * for the user to `source`.
 */
import { mkdir, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const AUTH_SOCK_LINK = 'ssh-auth-sock';
export const FORWARD_ENV_FILE = 'forward.env';

/** Quotes a value for POSIX sh: 'it'\''s'. */
function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function forwardEnvText(env: Record<string, string>): string {
  const lines = ['# Written by tshpool on each attach: the attaching client\'s forwarded variables.', '# Load them with: . "$TSHPOOL_SESSION_DIR/forward.env"'];
  // Code-unit order, not localeCompare: its first call loads ICU's collator, 12-27 ms
  // on the first attach of every daemon (a new session's start-up), measured with --cpu-prof.
  for (const [k, v] of Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (VAR_NAME.test(k)) lines.push(`export ${k}=${shQuote(v)}`);
  }
  return `${lines.join('\n')}\n`;
}

export class SessionDir {
  constructor(readonly path: string) {}

  get authSockLink(): string {
    return join(this.path, AUTH_SOCK_LINK);
  }

  async create(): Promise<void> {
    await mkdir(this.path, { recursive: true, mode: 0o700 });
  }

  /** Points the agent symlink at `agentSocket` atomically, or removes it when the client has no agent. */
  async pointAgent(agentSocket: string | undefined): Promise<void> {
    if (!agentSocket) {
      await unlink(this.authSockLink).catch(() => undefined);
      return;
    }
    const tmp = `${this.authSockLink}.${process.pid}.${Date.now()}`;
    await symlink(agentSocket, tmp);
    await rename(tmp, this.authSockLink);
  }

  async writeForwardEnv(env: Record<string, string>): Promise<void> {
    const tmp = join(this.path, `.${FORWARD_ENV_FILE}.tmp`);
    await writeFile(tmp, forwardEnvText(env), { mode: 0o600 });
    await rename(tmp, join(this.path, FORWARD_ENV_FILE));
  }

  async remove(): Promise<void> {
    await rm(this.path, { recursive: true, force: true });
  }
}
