import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfigText, ConfigError } from '../../dist/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'tsp-cfg-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name, text) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test('no files = defaults', () => {
  const { config, files, warnings } = loadConfig({ systemFile: join(dir, 'none1'), userFile: join(dir, 'none2') });
  assert.deepEqual(files, []);
  assert.deepEqual(warnings, []);
  assert.equal(config.shell, null);
  assert.equal(config.norc, false);
  assert.deepEqual(config.keybinding, []);
});

test('all keys parse', () => {
  const p = file('all.toml', `
shell = "/bin/zsh"
norc = true
noecho = false
forward_env = ["MYVAR"]
initial_path = "/usr/bin"
default_dir = "."
nodaemonize = true
[env]
FOO = "bar"
[[keybinding]]
binding = "Ctrl-a d"
action = "detach"
`);
  const { config } = loadConfig({ explicitFile: p, systemFile: '', userFile: '' });
  assert.equal(config.shell, '/bin/zsh');
  assert.equal(config.norc, true);
  assert.deepEqual(config.env, { FOO: 'bar' });
  assert.deepEqual(config.forward_env, ['MYVAR']);
  assert.deepEqual(config.keybinding, [{ binding: 'Ctrl-a d', action: 'detach' }]);
});

test('user file overrides the system file per top-level key', () => {
  const sys = file('sys.toml', 'shell = "/bin/sh"\nnorc = true\n');
  const user = file('user.toml', 'shell = "/bin/bash"\n');
  const { config, files } = loadConfig({ systemFile: sys, userFile: user });
  assert.deepEqual(files, [sys, user]);
  assert.equal(config.shell, '/bin/bash');
  assert.equal(config.norc, true);
});

test('invalid TOML names the file and line', () => {
  const p = file('bad.toml', 'shell = "/bin/sh"\nnorc = = true\n');
  assert.throws(() => loadConfig({ explicitFile: p, systemFile: '', userFile: '' }), (err) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, new RegExp(`${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, line 2`));
    return true;
  });
});

test('a wrong type names the file, line and key', () => {
  assert.throws(() => parseConfigText('shell = "x"\n\nnorc = "yes"\n', 'c.toml', []), /c\.toml, line 3, key 'norc': expected true or false, got string "yes"/);
  assert.throws(() => parseConfigText('[env]\nA = "1"\nB = 2\n', 'c.toml', []), /line 3, key 'env\.B': expected a string/);
  assert.throws(
    () => parseConfigText('[[keybinding]]\nbinding = "Ctrl-a"\naction = "detach"\n\n[[keybinding]]\nbinding = "x"\naction = "explode"\n', 'c.toml', []),
    /line 7, key 'keybinding\[1\]\.action': expected "detach" or "noop"/,
  );
  assert.throws(() => parseConfigText('[[keybinding]]\nbinding = "Ctrl-Foo"\naction = "detach"\n', 'c.toml', []), /line 2, key 'keybinding\[0\]\.binding': unknown key 'Ctrl-Foo'/);
});

test('unknown keys are warnings, with the likely key when one is close', () => {
  const warnings = [];
  const out = parseConfigText('norc = true\nshel = "x"\nfrobnicate = 1\n', 'c.toml', warnings);
  assert.equal(out.norc, true);
  assert.deepEqual(warnings, ["c.toml, line 2: unknown key 'shel' ignored (did you mean 'shell'?)", "c.toml, line 3: unknown key 'frobnicate' ignored"]);
});

test('an explicit file that does not exist is an error', () => {
  assert.throws(() => loadConfig({ explicitFile: join(dir, 'missing.toml'), systemFile: '', userFile: '' }), /does not exist/);
});
