/**
 * Renders the man page from the same commander definitions that print --help,
 * so the two never disagree (scripts/gen-man.mjs writes man/tshpool.1).
 */
import type { EventEmitter } from 'node:events';
import type { Command, Option } from 'commander';

function esc(text: string): string {
  return text.replace(/\\/g, '\\e').replace(/^([.'])/gm, '\\&$1').replace(/-/g, '\\-');
}

function options(opts: readonly Option[]): string {
  return opts
    .filter((o) => !o.hidden)
    .map((o) => `.TP\n.B ${esc(o.flags)}\n${esc(o.description)}${o.defaultValue !== undefined && typeof o.defaultValue !== 'boolean' && !Array.isArray(o.defaultValue) ? ` (default ${esc(String(o.defaultValue))})` : ''}\n`)
    .join('');
}

/** `after` help text added with addHelpText, as commander would print it. */
function afterHelp(cmd: Command): string {
  const texts: string[] = [];
  const fake = { write: (s: string) => void texts.push(s) };
  // commander keeps addHelpText() texts as 'afterHelp' listeners (Command is an EventEmitter).
  (cmd as unknown as EventEmitter).emit('afterHelp', { error: false, command: cmd, write: fake.write });
  return texts.join('').trim();
}

export function renderManPage(program: Command, version: string, extra: { exitCodes: [string, string][]; files: [string, string][] }): string {
  const lines: string[] = [];
  lines.push(`.TH TSHPOOL 1 "" "tshpool ${esc(version)}" "User Commands"`);
  lines.push('.SH NAME', `tshpool \\- ${esc(program.description())}`);
  lines.push('.SH SYNOPSIS', '.B tshpool', '[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]');
  lines.push('.SH DESCRIPTION', esc('tshpool keeps shell sessions alive on a machine: attach to a session, lose the connection or detach, and come back to the same shell with its screen restored. One daemon per user keeps the sessions; it starts automatically.'));
  lines.push('.SH OPTIONS', options(program.options).trimEnd());
  lines.push('.SH COMMANDS');
  for (const cmd of program.commands) {
    const args = cmd.registeredArguments.map((a) => (a.required ? `<${a.name()}${a.variadic ? '...' : ''}>` : `[${a.name()}${a.variadic ? '...' : ''}]`)).join(' ');
    lines.push(`.SS "${esc(`${cmd.name()} ${args}`.trim())}"`, esc(cmd.description()));
    if (cmd.options.length) lines.push(options(cmd.options).trimEnd());
    const after = afterHelp(cmd);
    if (after) lines.push('.PP', '.nf', esc(after), '.fi');
  }
  lines.push('.SH EXIT STATUS');
  for (const [code, meaning] of extra.exitCodes) lines.push('.TP', `.B ${esc(code)}`, esc(meaning));
  lines.push('.SH FILES');
  for (const [file, meaning] of extra.files) lines.push('.TP', `.I ${esc(file)}`, esc(meaning));
  lines.push('.SH SEE ALSO', 'The README of the tshpool package: hooks, configuration keys, SSH recipes.');
  return `${lines.join('\n')}\n`;
}
