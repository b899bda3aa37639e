/** Session names: short enough for `list`, a file name and a prompt (in characters, i.e. code points). */
export const MAX_SESSION_NAME_LENGTH = 64;
/** A name becomes a directory name: at most NAME_MAX (255) bytes of UTF-8. */
const MAX_SESSION_NAME_BYTES = 255;

/**
 * Format characters (zero-width spaces and joiners, bidi embeddings, overrides and
 * isolates, soft hyphen, BOM), line/paragraph separators and private-use or
 * unassigned code points: names that look alike but differ, or that reorder the
 * text around them in a table or a prompt.
 */
const INVISIBLE = /[\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}]/u;

/** String.prototype.isWellFormed where available (Node ≥ 20), else a lone-surrogate scan. */
function isWellFormed(s: string): boolean {
  const native = (s as unknown as { isWellFormed?: () => boolean }).isWellFormed;
  if (native) return native.call(s);
  return !/\p{Surrogate}/u.test(s);
}

/**
 * Why `name` cannot be a session name, or null when it can. Names become file
 * names (the session directory) and appear in prompts and tables, so anything
 * that could escape a path or a terminal is refused.
 */
export function sessionNameProblem(name: string): string | null {
  if (name.length === 0) return 'a session name cannot be empty';
  const characters = [...name].length;
  if (characters > MAX_SESSION_NAME_LENGTH) return `a session name is at most ${MAX_SESSION_NAME_LENGTH} characters (got ${characters})`;
  if (Buffer.byteLength(name) > MAX_SESSION_NAME_BYTES) return `a session name is at most ${MAX_SESSION_NAME_BYTES} bytes of UTF-8 (got ${Buffer.byteLength(name)})`;
  if (name === '.' || name === '..') return `'${name}' is not a valid session name`;
  if (name.includes('/')) return 'a session name cannot contain "/"';
  if (/\s/u.test(name)) return 'a session name cannot contain whitespace';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/u.test(name)) return 'a session name cannot contain control characters';
  // A lone surrogate becomes U+FFFD in a file name: "\ud800" and "\udbff" would share one session directory.
  if (!isWellFormed(name) || name.includes('\ufffd')) return 'a session name must be well-formed Unicode (no lone surrogates or U+FFFD)';
  if (INVISIBLE.test(name)) return 'a session name cannot contain invisible or text-direction characters';
  return null;
}
