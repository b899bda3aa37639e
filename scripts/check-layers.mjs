#!/usr/bin/env node
// Fails when an import crosses a layer (see ../shared/STYLE.md, rule 1):
//   protocol/ imports nothing of ours; client/ never imports daemon/ and vice versa;
//   restore/, hooks/, config/, util/, platform/ import neither client/ nor daemon/;
//   util/ imports only util/ and consts.ts (it is below config/ and hooks/: no cycle).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const src = join(root, 'src');
const rules = [
  { layer: 'protocol', forbid: (target) => !target.startsWith('protocol/'), why: 'protocol/ imports nothing of ours' },
  { layer: 'client', forbid: (target) => target.startsWith('daemon/'), why: 'client/ must not import daemon/' },
  { layer: 'daemon', forbid: (target) => target.startsWith('client/'), why: 'daemon/ must not import client/' },
  { layer: 'util', forbid: (target) => !target.startsWith('util/') && target !== 'consts.ts', why: 'util/ imports only util/ and consts.ts' },
  ...['restore', 'hooks', 'config', 'platform'].map((layer) => ({
    layer,
    forbid: (target) => target.startsWith('client/') || target.startsWith('daemon/') || target === 'cli.ts',
    why: `${layer}/ must not import client/, daemon/ or cli.ts`,
  })),
];

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

const problems = [];
for (const file of files(src)) {
  const rel = relative(src, file);
  const layer = rel.split('/')[0];
  const rule = rules.find((r) => r.layer === layer);
  if (!rule) continue;
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const target = relative(src, resolve(dirname(file), m[1])).replace(/\.js$/, '.ts');
    if (rule.forbid(target)) problems.push(`${rel}: imports ${target} (${rule.why})`);
  }
}
if (problems.length) {
  console.error(`layer check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('layer check: ok');
