/**
 * Prompt prefix for bash, zsh and fish without typing anything into the shell.
 *
 * shpool writes a sentinel command into each new shell and waits for it to echo
 * back; when a shell does not cooperate (nushell, fish, an interactive rc file)
 * the attach hangs, and the setup text leaks into the screen and history. tshpool
 * instead starts the shell through its own startup hook, the way VS Code's shell
 * integration does: bash gets `--init-file` (a file that reads the user's login
 * files, then prefixes PS1), zsh gets ZDOTDIR pointing at files that source the
 * user's own and then add a precmd hook, fish gets `-C` (run after its config).
 * Nothing is written to the pty and nothing is waited for, so there is nothing to
 * hang on and nothing to see. Any other shell, and `--cmd` sessions, start as-is.
 *
 * The prefix reaches the scripts in TSHPOOL_PROMPT_PREFIX, which they unset. It is
 * inserted by reference (`${__tshpool_prefix}`), so a session name is never
 * evaluated as shell code.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ENV_PROMPT_PREFIX = 'TSHPOOL_PROMPT_PREFIX';
/** Set (to 1) when config `norc` asks for no user startup files. */
export const ENV_NORC = '__TSHPOOL_NORC';
/** A directory holding a `tshpool` launcher, appended to sessions' PATH (see writeLauncher). */
export const ENV_BIN_DIR = 'TSHPOOL_BIN_DIR';
/** The user's ZDOTDIR (if any) while ours is in effect. */
export const ENV_USER_ZDOTDIR = '__TSHPOOL_USER_ZDOTDIR';

const BASH_INIT = `# tshpool bash integration: the user's login startup files, then the prompt prefix.
if [ -z "$${ENV_NORC}" ]; then
  [ -r /etc/profile ] && . /etc/profile
  if [ -r ~/.bash_profile ]; then . ~/.bash_profile
  elif [ -r ~/.bash_login ]; then . ~/.bash_login
  elif [ -r ~/.profile ]; then . ~/.profile
  fi
fi
# /etc/profile sets PATH anew: the tshpool launcher goes back at its end.
if [ -n "$${ENV_BIN_DIR}" ]; then case ":$PATH:" in *":$${ENV_BIN_DIR}:"*) ;; *) PATH="$PATH:$${ENV_BIN_DIR}" ;; esac; fi
unset ${ENV_NORC}
if [ -n "$${ENV_PROMPT_PREFIX}" ]; then
  __tshpool_prefix=$${ENV_PROMPT_PREFIX}
  __tshpool_prompt() {
    case "$PS1" in '\${__tshpool_prefix}'*) ;; *) PS1='\${__tshpool_prefix}'"$PS1" ;; esac
  }
  __tshpool_prompt
  # Themes that rebuild PS1 before each prompt get the prefix back.
  if [[ "$(declare -p PROMPT_COMMAND 2>/dev/null)" == "declare -a"* ]]; then
    PROMPT_COMMAND+=(__tshpool_prompt)
  else
    PROMPT_COMMAND="\${PROMPT_COMMAND:+$PROMPT_COMMAND$'\\n'}__tshpool_prompt"
  fi
fi
unset ${ENV_PROMPT_PREFIX}
`;

/** zsh reads $ZDOTDIR/.zshenv, .zprofile, .zshrc, .zlogin: each of ours sources the user's, then hands back to ours. */
function zshFile(name: string, last: boolean): string {
  return `# tshpool zsh integration: source the user's ${name}, then continue with tshpool's files.
__tshpool_dir=$ZDOTDIR
ZDOTDIR=\${${ENV_USER_ZDOTDIR}:-$HOME}
if [[ -z $${ENV_NORC} && -r $ZDOTDIR/${name} ]]; then source $ZDOTDIR/${name}; fi
# The user's .zshenv may move ZDOTDIR; later files come from there.
${ENV_USER_ZDOTDIR}=$ZDOTDIR
${
  last
    ? `[[ -n $${ENV_BIN_DIR} && :$PATH: != *:$${ENV_BIN_DIR}:* ]] && PATH=$PATH:$${ENV_BIN_DIR}
unset ${ENV_USER_ZDOTDIR} ${ENV_NORC} __tshpool_dir
[[ $ZDOTDIR == $HOME ]] && unset ZDOTDIR
if [[ -n $${ENV_PROMPT_PREFIX} ]]; then
  typeset -g __tshpool_prefix=$${ENV_PROMPT_PREFIX}
  __tshpool_prompt() {
    if [[ -o promptsubst ]]; then
      [[ $PROMPT == '\${__tshpool_prefix}'* ]] || PROMPT='\${__tshpool_prefix}'$PROMPT
    else
      local p=\${__tshpool_prefix//\\%/%%}
      [[ $PROMPT == "$p"* ]] || PROMPT=$p$PROMPT
    fi
  }
  typeset -ga precmd_functions
  precmd_functions+=(__tshpool_prompt)
fi
unset ${ENV_PROMPT_PREFIX}`
    : 'ZDOTDIR=$__tshpool_dir'
}
`;
}

const FISH_INIT = `# tshpool fish integration (run with -C, after fish's own config): the tshpool launcher on PATH, the prompt prefix.
if set -q ${ENV_BIN_DIR}; and not contains -- $${ENV_BIN_DIR} $PATH
  set -gx PATH $PATH $${ENV_BIN_DIR}
end
if set -q ${ENV_PROMPT_PREFIX}
  set -g __tshpool_prefix $${ENV_PROMPT_PREFIX}
  set -e ${ENV_PROMPT_PREFIX}
  if functions -q fish_prompt
    functions -c fish_prompt __tshpool_user_prompt
  else
    function __tshpool_user_prompt
      printf '%s> ' (prompt_pwd)
    end
  end
  function fish_prompt
    printf '%s' $__tshpool_prefix
    __tshpool_user_prompt
  end
end
`;

export interface IntegrationPaths {
  bashInit: string;
  zshDir: string;
  fishInit: string;
  /** Holds `tshpool`, a launcher of the daemon's own tshpool. */
  binDir: string;
}

export function integrationPaths(dir: string): IntegrationPaths {
  return { bashInit: join(dir, 'bash-init.sh'), zshDir: join(dir, 'zsh'), fishInit: join(dir, 'fish-init.fish'), binDir: join(dir, 'bin') };
}

/** The tshpool this daemon runs (bin/tshpool of its package). */
const OWN_BIN = fileURLToPath(new URL('../../bin/tshpool', import.meta.url));

/** Single-quotes `s` for sh. */
const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * `tshpool` inside a session must reach this daemon's tshpool however it was
 * started (from a checkout, say, not on PATH): a launcher that runs it with this
 * node, appended to the sessions' PATH (an installed `tshpool` earlier on PATH wins).
 */
function launcher(): string {
  return `#!/bin/sh\n# tshpool's launcher for sessions (written by the daemon).\nexec ${shQuote(process.execPath)} ${shQuote(OWN_BIN)} "$@"\n`;
}

/** Writes the integration scripts (at daemon start, before any session). */
export async function writeShellIntegration(dir: string): Promise<IntegrationPaths> {
  const paths = integrationPaths(dir);
  await mkdir(paths.zshDir, { recursive: true, mode: 0o700 });
  await mkdir(paths.binDir, { recursive: true, mode: 0o700 });
  await Promise.all([
    writeFile(join(paths.binDir, 'tshpool'), launcher(), { mode: 0o700 }),
    writeFile(paths.bashInit, BASH_INIT, { mode: 0o600 }),
    writeFile(paths.fishInit, FISH_INIT, { mode: 0o600 }),
    writeFile(join(paths.zshDir, '.zshenv'), zshFile('.zshenv', false), { mode: 0o600 }),
    writeFile(join(paths.zshDir, '.zprofile'), zshFile('.zprofile', false), { mode: 0o600 }),
    writeFile(join(paths.zshDir, '.zshrc'), zshFile('.zshrc', false), { mode: 0o600 }),
    writeFile(join(paths.zshDir, '.zlogin'), zshFile('.zlogin', true), { mode: 0o600 }),
  ]);
  return paths;
}

/** `$TSHPOOL_SESSION_NAME` / `${TSHPOOL_SESSION_NAME}` in the configured prefix → the name. */
export function expandPromptPrefix(prefix: string, name: string): string {
  return prefix.replace(/\$\{TSHPOOL_SESSION_NAME\}|\$TSHPOOL_SESSION_NAME/g, name);
}
