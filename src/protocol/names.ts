/** Session names: short enough for `list`, a file name and a prompt. */
export const MAX_SESSION_NAME_LENGTH = 64;

/**
 * Why `name` cannot be a session name, or null when it can. Names become file
 * names (the session directory) and appear in prompts and tables, so anything
 * that could escape a path or a terminal is refused.
 */
export function sessionNameProblem(name: string): string | null {
  if (name.length === 0) return 'a session name cannot be empty';
  if (name.length > MAX_SESSION_NAME_LENGTH) return `a session name is at most ${MAX_SESSION_NAME_LENGTH} characters (got ${name.length})`;
  if (name === '.' || name === '..') return `'${name}' is not a valid session name`;
  if (name.includes('/')) return 'a session name cannot contain "/"';
  if (/\s/u.test(name)) return 'a session name cannot contain whitespace';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/u.test(name)) return 'a session name cannot contain control characters';
  return null;
}
