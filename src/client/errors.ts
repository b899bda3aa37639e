/**
 * Exit codes and user-facing failures of the client, in one place.
 * See the README's table of exit codes.
 */
export const ExitCode = {
  Ok: 0,
  /** Something went wrong: not found, daemon unreachable, invalid config... */
  Error: 1,
  /** The command line itself was wrong (unknown option, bad duration, bad name). */
  Usage: 2,
  /** attach: the session already has a client (use -f). */
  Busy: 3,
  /** attach/view: a decision hook of the daemon's wrapper refused it (the reason is printed). */
  Refused: 4,
} as const;

/** An error whose message is for the user and which maps to an exit code. */
export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.Error,
  ) {
    super(message);
  }
}

/** Prints a failure that reached the top of a command and returns its exit code. */
export function reportFailure(err: unknown): number {
  if (err instanceof UserError) {
    process.stderr.write(`tshpool: ${err.message}\n`);
    return err.exitCode;
  }
  const e = err as Error;
  process.stderr.write(`tshpool: internal error: ${e?.stack ?? String(err)}\n`);
  return ExitCode.Error;
}
