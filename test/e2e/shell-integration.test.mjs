// End-to-end: the prompt prefix (config `prompt_prefix`, default "tshpool:NAME ")
// for bash, zsh and fish, set up through the shells' start-up hooks: nothing typed
// into the shell, so nothing of the setup on screen or in history, no waiting, and a
// session name is never evaluated as shell code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeSandbox, procCmdline, procEnv, shellRun, skipUnless } from '../support/sandbox.mjs';
import { waitScreen } from '../support/screen.mjs';

const ZSH = '/usr/bin/zsh';
const FISH = '/usr/bin/fish';
/** Text that would betray the integration if it reached the screen. */
const SETUP_WORDS = ['source', '__tshpool', 'TSHPOOL_PROMPT_PREFIX', '__TSHPOOL', 'init-file', 'shell-integration', 'precmd', 'ZDOTDIR', 'fish_prompt'];

/**
 * A sandbox whose config says `shell = SHELL` (plus `extra`), with predictable rc
 * files for zsh (PROMPT='z$ ', ZRC=1) and fish (prompt 'f> ', FRC=1, no greeting)
 * besides the bash ones of the sandbox (PS1='$ ', TSHPOOL_TEST_PROFILE=1).
 */
async function shellSandbox(t, shell, extra = '') {
  const sb = await makeSandbox(t);
  sb.writeConfig(`shell = "${shell}"\n${extra}`, { base: false });
  writeFileSync(sb.path('h', '.zshrc'), "PROMPT='z$ '\nexport ZRC=1\n");
  // Sessions get HOME but not the client's XDG_CONFIG_HOME: fish reads ~/.config.
  mkdirSync(sb.path('h', '.config', 'fish'), { recursive: true });
  writeFileSync(sb.path('h', '.config', 'fish', 'config.fish'), "set -g fish_greeting ''\nfunction fish_prompt; printf 'f> '; end\nset -gx FRC 1\n");
  return sb;
}

/**
 * Attaches `name` in a new terminal and waits for the first prompt, which must be
 * exactly `prompt` on the first row with the cursor after it and nothing else on
 * the screen. Returns the terminal.
 */
async function expectFirstPrompt(sb, name, prompt, { startsWith = false } = {}) {
  const term = sb.spawnTerm(['attach', name]);
  await term.waitRawMode();
  const matches = (row) => (startsWith ? row.startsWith(prompt) : row === prompt.trimEnd());
  const screen = await waitScreen(term, (s) => matches(s.row(1)) && s.cursor().row === 1 && s.cursor().col === s.row(1).length + 2, {
    message: `the first prompt ${JSON.stringify(prompt)}`,
  });
  const rest = screen.lines().slice(1).filter((l) => l !== '');
  assert.deepEqual(rest, [], `only the prompt on the screen:\n${screen.dump()}`);
  for (const w of SETUP_WORDS) assert.ok(!term.clean.includes(w), `no ${w} in the output: ${JSON.stringify(term.clean)}`);
  return term;
}

/** Files named PWNED / PWNED2 anywhere under `dir`. */
function pwned(dir) {
  const found = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === 'PWNED' || e.name === 'PWNED2') found.push(join(d, e.name));
      if (e.isDirectory()) walk(join(d, e.name));
    }
  };
  walk(dir);
  return found;
}

test('bash: the prompt shows "tshpool:NAME " and nothing of the setup is on screen or in history', async (t) => {
  const sb = await shellSandbox(t, '/bin/bash');
  const term = await expectFirstPrompt(sb, 'pb', 'tshpool:pb $ ');
  const hist = (await shellRun(term, 'history')).trim().split('\n');
  assert.equal(hist.length, 1, `only the command just typed is in the history: ${JSON.stringify(hist)}`);
  assert.match(hist[0], /^1\s+echo S\$\(\(\d+\+1\)\)S; history; echo E/);
  // The user's startup files ran, and the integration's variables are gone.
  assert.equal(await shellRun(term, 'echo "[$TSHPOOL_TEST_PROFILE][${TSHPOOL_PROMPT_PREFIX-unset}]"'), '[1][unset]\n');
  // The prefix survives a PS1 change by the user (re-applied before each prompt).
  term.write("PS1='new> '\r");
  await waitScreen(term, (s) => s.lines().includes('tshpool:pb new>'), { message: 'the prefix on the changed prompt' });
});

test('zsh: the prompt shows "tshpool:NAME " and nothing of the setup is on screen or in history', { skip: skipUnless(ZSH) }, async (t) => {
  const sb = await shellSandbox(t, ZSH);
  const term = await expectFirstPrompt(sb, 'pz', 'tshpool:pz z$ ');
  const hist = await shellRun(term, 'fc -ln 1');
  assert.ok(!SETUP_WORDS.some((w) => hist.includes(w)), `history: ${JSON.stringify(hist)}`);
  assert.equal(await shellRun(term, 'echo "[$ZRC][${TSHPOOL_PROMPT_PREFIX-unset}][${ZDOTDIR-unset}]"'), '[1][unset][unset]\n');
});

test('fish: the prompt shows "tshpool:NAME " and nothing of the setup is on screen or in history', { skip: skipUnless(FISH) }, async (t) => {
  const sb = await shellSandbox(t, FISH);
  const term = await expectFirstPrompt(sb, 'pf', 'tshpool:pf f> ');
  // fish has no $((..)): its own markers.
  const since = term.mark();
  term.write('echo M(math 40 + 2)M; history | cat; echo "[$FRC]"; set -q TSHPOOL_PROMPT_PREFIX; or echo U(math 1 + 1)U\r');
  const m = await term.waitFor(/M42M\r*\n([\s\S]*?)U2U/, { since, clean: true });
  assert.ok(!SETUP_WORDS.some((w) => m[1].includes(w)), `history: ${JSON.stringify(m[1])}`);
  assert.match(m[1], /\[1\]/, "the user's config.fish ran");
});

test('prompt_prefix = "" disables the prefix (and the integration)', async (t) => {
  const sb = await makeSandbox(t, { config: 'prompt_prefix = ""\n' });
  await expectFirstPrompt(sb, 'np', '$ ');
  const { pid } = await sb.session('np');
  assert.ok(!procCmdline(pid).includes('--init-file'), JSON.stringify(procCmdline(pid)));
});

test('prompt_prefix = "[$TSHPOOL_SESSION_NAME] " gives "[NAME] "', async (t) => {
  const sb = await makeSandbox(t, { config: 'prompt_prefix = "[$TSHPOOL_SESSION_NAME] "\n' });
  await expectFirstPrompt(sb, 'custom', '[custom] $ ');
});

// $(...), `...`, ${IFS}, zsh's %n and bash's \w: nothing may run or expand.
const EVIL = 'a$(touch${IFS}PWNED)`touch${IFS}PWNED2`b%n\\w';

for (const [shell, promptTail, skip] of [
  ['/bin/bash', '$ ', false],
  [ZSH, 'z$ ', skipUnless(ZSH)],
  [FISH, 'f> ', skipUnless(FISH)],
]) {
  test(`${shell}: a session name with shell metacharacters shows literally and runs nothing`, { skip }, async (t) => {
    const sb = await shellSandbox(t, shell);
    const check = await sb.run(['attach', '-b', EVIL]);
    assert.equal(check.code, 0, `a valid name (no whitespace, no /): ${check.stderr}`);
    await sb.runOk(['kill', EVIL]);
    const term = await expectFirstPrompt(sb, EVIL, `tshpool:${EVIL} ${promptTail}`);
    // Two more prompts: the prefix is re-applied before each one, still literally.
    term.write('\r\r');
    await waitScreen(term, (s) => s.lines().filter((l) => l === `tshpool:${EVIL} ${promptTail}`.trimEnd()).length === 3, {
      message: 'three literal prompts',
    });
    assert.deepEqual(pwned(sb.dir), []);
    assert.equal(existsSync('/PWNED') || existsSync('/PWNED2'), false);
  });
}

test('/bin/sh (dash) starts at once, with no prefix and no integration', async (t) => {
  const sb = await makeSandbox(t);
  sb.writeConfig('shell = "/bin/sh"\n', { base: false });
  await sb.runOk(['list']); // the daemon runs: time the session only
  const term = sb.spawnTerm(['attach', 'dash']);
  await term.waitRawMode();
  const t0 = Date.now();
  term.write('echo D$((20+3))D\r');
  await term.waitFor('D23D');
  const ms = Date.now() - t0;
  t.diagnostic(`dash answered ${ms} ms after the client entered raw mode`);
  assert.ok(ms < 1000, `dash answered after ${ms} ms`);
  assert.ok(!term.clean.includes('tshpool:'), JSON.stringify(term.clean));
  const { pid } = await sb.session('dash');
  assert.deepEqual(procCmdline(pid), ['/bin/sh', '-l']);
  assert.equal(procEnv(pid).TSHPOOL_PROMPT_PREFIX, undefined);
});

test('attach -c cat starts at once, with no prefix', async (t) => {
  const sb = await makeSandbox(t);
  await sb.runOk(['list']);
  const term = sb.spawnTerm(['attach', '-c', 'cat', 'cat1']);
  await term.waitRawMode();
  const t0 = Date.now();
  term.write('pi""ng\r');
  // The pty echoes the line, then cat prints it again.
  await term.waitFor(/pi""ng\r*\npi""ng/);
  const ms = Date.now() - t0;
  t.diagnostic(`cat answered ${ms} ms after the client entered raw mode`);
  assert.ok(ms < 1000, `cat answered after ${ms} ms`);
  assert.ok(!term.clean.includes('tshpool:'), JSON.stringify(term.clean));
  const { pid } = await sb.session('cat1');
  assert.deepEqual(procCmdline(pid), ['cat']);
  assert.equal(procEnv(pid).TSHPOOL_PROMPT_PREFIX, undefined);
});

test('norc = true: bash still gets the prefix, without the user rc files', async (t) => {
  const sb = await shellSandbox(t, '/bin/bash', 'norc = true\n');
  const term = await expectFirstPrompt(sb, 'nb', 'tshpool:nb ', { startsWith: true });
  assert.equal(await shellRun(term, 'echo "[$TSHPOOL_TEST_PROFILE]"'), '[]\n');
});

test('norc = true with [env] PS1: bash shows exactly the prefix over the PS1 norc gives (no /etc/bash.bashrc), and a name is never run', async (t) => {
  const sb = await shellSandbox(t, '/bin/bash', 'norc = true\nprompt_prefix = "tsh:$TSHPOOL_SESSION_NAME "\n[env]\nPS1 = "prompt> "\n');
  await expectFirstPrompt(sb, 'p1', 'tsh:p1 prompt> ');
  // A name with $(...) in it appears as text; nothing runs.
  const flag = sb.path('h', 'ran');
  const name = `x$(touch${'${IFS}'}ran)`; // a command would run in the session's directory, HOME
  await expectFirstPrompt(sb, name, `tsh:${name} prompt> `);
  assert.equal(existsSync(flag), false, 'the session name was run as a command');
});

test('norc = true: zsh still gets the prefix, without the user rc files', { skip: skipUnless(ZSH) }, async (t) => {
  const sb = await shellSandbox(t, ZSH, 'norc = true\n');
  const term = await expectFirstPrompt(sb, 'nz', 'tshpool:nz ', { startsWith: true });
  assert.ok(!term.clean.includes('z$'), 'not the user .zshrc prompt');
  assert.equal(await shellRun(term, 'echo "[$ZRC]"'), '[]\n');
});
