import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderManPageText } from '../../scripts/gen-man.mjs';

test('man/tshpool.1 is generated from the current --help definitions', async () => {
  const committed = readFileSync(new URL('../../man/tshpool.1', import.meta.url), 'utf8');
  const fresh = await renderManPageText();
  assert.equal(committed, fresh, 'man page out of date: run `npm run build && npm run man`');
  for (const cmd of ['attach', 'detach', 'kill', 'list', 'events', 'view', 'capture', 'send', 'choose', 'doctor', 'logs', 'completion']) {
    assert.match(fresh, new RegExp(`\\.SS "${cmd}\\b`), `man page documents ${cmd}`);
  }
});
