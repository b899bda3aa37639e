/**
 * `tshpool completion bash|zsh|fish`: a completion script for subcommands,
 * options and live session names (`tshpool list --names`).
 */
import { UserError, ExitCode } from './errors.js';

/** Session names for completion; never starts a daemon just because someone pressed TAB. */
const LIST_NAMES = 'tshpool --no-daemonize list --names 2>/dev/null';

export interface CompletionSpec {
  /** `names`: the command and its aliases. */
  commands: { names: string[]; options: string[]; takesSession: boolean }[];
  globalOptions: string[];
}

function bash(spec: CompletionSpec): string {
  const cases = spec.commands
    .map((c) => `    ${c.names.join('|')}) opts="${c.options.join(' ')}"; sessions=${c.takesSession ? 1 : 0} ;;`)
    .join('\n');
  return `# bash completion for tshpool. Install: tshpool completion bash > ~/.local/share/bash-completion/completions/tshpool
_tshpool() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmd="" i opts sessions=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    case \${COMP_WORDS[i]} in
      --socket|--config-file|--log-file) ((i++)) ;;
      -*) ;;
      *) cmd=\${COMP_WORDS[i]}; break ;;
    esac
  done
  if [[ -z $cmd ]]; then
    COMPREPLY=($(compgen -W "${spec.commands.map((c) => c.names[0]).join(' ')} ${spec.globalOptions.join(' ')}" -- "$cur"))
    return
  fi
  case $cmd in
${cases}
    *) opts="" ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif ((sessions)); then
    COMPREPLY=($(compgen -W "$(${LIST_NAMES})" -- "$cur"))
  fi
}
complete -F _tshpool tshpool
`;
}

function zsh(spec: CompletionSpec): string {
  const cases = spec.commands
    .map((c) => `    ${c.names.join('|')}) opts=(${c.options.join(' ')}); sessions=${c.takesSession ? 1 : 0} ;;`)
    .join('\n');
  return `#compdef tshpool
# zsh completion for tshpool. Install: tshpool completion zsh > "\${fpath[1]}/_tshpool"
_tshpool() {
  local -a cmds opts
  local sessions=0 cmd="" i
  cmds=(${spec.commands.map((c) => c.names[0]).join(' ')})
  for ((i = 2; i < CURRENT; i++)); do
    case \${words[i]} in
      --socket|--config-file|--log-file) ((i++)) ;;
      -*) ;;
      *) cmd=\${words[i]}; break ;;
    esac
  done
  if [[ -z $cmd ]]; then
    compadd -- $cmds ${spec.globalOptions.join(' ')}
    return
  fi
  case $cmd in
${cases}
  esac
  if [[ \${words[CURRENT]} == -* ]]; then
    compadd -- $opts
  elif ((sessions)); then
    compadd -- \${(f)"$(${LIST_NAMES})"}
  fi
}
compdef _tshpool tshpool
`;
}

function fish(spec: CompletionSpec): string {
  const lines = [
    '# fish completion for tshpool. Install: tshpool completion fish > ~/.config/fish/completions/tshpool.fish',
    'complete -c tshpool -f',
    `complete -c tshpool -n __fish_use_subcommand -a "${spec.commands.map((c) => c.names[0]).join(' ')}"`,
  ];
  for (const o of spec.globalOptions) if (o.startsWith('--')) lines.push(`complete -c tshpool -n __fish_use_subcommand -l ${o.slice(2)}`);
  for (const c of spec.commands) {
    const seen = `__fish_seen_subcommand_from ${c.names.join(' ')}`;
    for (const o of c.options) {
      if (o.startsWith('--')) lines.push(`complete -c tshpool -n "${seen}" -l ${o.slice(2)}`);
      else lines.push(`complete -c tshpool -n "${seen}" -s ${o.slice(1)}`);
    }
    if (c.takesSession) lines.push(`complete -c tshpool -n "${seen}" -a "(${LIST_NAMES})"`);
  }
  return `${lines.join('\n')}\n`;
}

export function completion(shell: string, spec: CompletionSpec): number {
  const make = { bash, zsh, fish }[shell];
  if (!make) throw new UserError(`no completion for '${shell}': use bash, zsh or fish`, ExitCode.Usage);
  process.stdout.write(make(spec));
  return ExitCode.Ok;
}
