// End-to-end: the published package. `npm pack` (with --ignore-scripts: it packs
// the dist/ that `npm test` just built, and rebuilds nothing in the checkout that
// concurrent tests are running) into a temp dir, check the tarball's contents, then
// `npm install -g --prefix <tmp> <tarball>` from the registry (builds node-pty and
// the peer-credential addon) and use the installed `tshpool` and `import('tshpool')`.
// One pack and one install: this is the slow file (~30 s).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NODE, ROOT, makeSandbox, skipWithout, waitUntil } from '../support/sandbox.mjs';
import { which } from '../support/sshd.mjs';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const npm = which('npm');

function runProgram(file, args, { env, cwd, timeout }) {
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    execFile(file, args, { env, cwd, timeout, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(Object.assign(err, { message: `${file} ${args.join(' ')}: ${err.message}\n${stderr}` }));
      resolvePromise({ code: err ? err.code : 0, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** npm's environment: ours without what an outer `npm test` exported (npm_config_*, npm_package_*...). */
function npmEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'INIT_CWD') env[k] = v;
  // node-gyp (node-pty, our addon) builds against the local headers instead of downloading them.
  if (existsSync('/usr/include/node')) env.npm_config_nodedir = '/usr';
  Object.assign(env, { npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', npm_config_loglevel: 'warn' });
  return env;
}

test('package.json declares engines, and this node satisfies them', () => {
  assert.ok(pkg.engines?.node, 'engines.node is set');
  const m = /^>=\s*(\d+)(?:\.\d+){0,2}$/.exec(pkg.engines.node);
  assert.ok(m, `engines.node ${pkg.engines.node} is a plain lower bound`);
  assert.ok(Number(process.versions.node.split('.')[0]) >= Number(m[1]));
  assert.equal(pkg.bin?.tshpool, 'bin/tshpool');
  assert.ok(pkg.scripts?.install, 'the native addon builds at install');
});

test('npm pack, npm install -g: the installed tshpool and library work', { skip: skipWithout(npm, 'npm is not on PATH'), timeout: 240_000 }, async (t) => {
  const tmp = mkdtempSync('/tmp/tsp-pkg-');
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const prefix = join(tmp, 'prefix');
  let tarball;
  let files;

  await t.test('npm pack: the tarball has what users need and nothing else', async () => {
    const r = await runProgram(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: ROOT, env: npmEnv(), timeout: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const [info] = JSON.parse(r.stdout);
    tarball = join(tmp, info.filename);
    assert.ok(existsSync(tarball), tarball);
    assert.equal(existsSync(join(ROOT, info.filename)), false, 'nothing left in the checkout');
    files = new Map(info.files.map((f) => [f.path, f]));
    const listed = (await runProgram('tar', ['-tzf', tarball], { timeout: 20_000 })).stdout.split('\n').filter(Boolean);
    assert.deepEqual(listed.map((p) => p.replace(/^package\//, '')).sort(), [...files.keys()].sort(), 'npm --json lists what is in the tarball');

    for (const f of ['package.json', 'bin/tshpool', 'dist/cli.js', 'dist/index.js', 'dist/index.d.ts', 'native/peercred.c', 'binding.gyp', 'man/tshpool.1', 'systemd/tshpool.service', 'systemd/tshpool.socket', 'README.md']) {
      assert.ok(files.has(f), `${f} is in the package`);
    }
    assert.ok(files.get('bin/tshpool').mode & 0o111, 'bin/tshpool is executable');
    const unwanted = [...files.keys()].filter((p) => /^(test|src|scripts|node_modules|build|\.ci|\.scratch|\.git|bench-results)\//.test(p) || (p.endsWith('.ts') && !p.endsWith('.d.ts') && !p.startsWith('examples/')) || p.endsWith('.tgz'));
    assert.deepEqual(unwanted, [], 'no tests, sources, scripts, build output or dependencies');
  });

  await t.test('npm install -g --prefix <tmp> <tarball> installs it (native parts built)', { timeout: 180_000 }, async () => {
    assert.ok(tarball, 'packed');
    const r = await runProgram(npm, ['install', '-g', '--prefix', prefix, tarball], { cwd: tmp, env: npmEnv(), timeout: 180_000 });
    t.diagnostic(`npm install -g took ${r.ms} ms`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const installed = join(prefix, 'lib', 'node_modules', 'tshpool');
    assert.equal(resolve(join(prefix, 'bin'), readlinkSync(join(prefix, 'bin', 'tshpool'))), join(installed, 'bin', 'tshpool'));
    assert.ok(existsSync(join(installed, 'build', 'Release', 'tshpool_native.node')), 'the install script built the native addon');
    assert.ok(existsSync(join(installed, 'node_modules', 'node-pty', 'build', 'Release', 'pty.node')), 'node-pty is built');
    assert.ok(statSync(join(prefix, 'share', 'man', 'man1', 'tshpool.1')).isFile(), 'the man page is linked into <prefix>/share/man');
  });

  await t.test('the installed tshpool runs sessions; doctor is happy; systemd units point at it', async (st) => {
    const bin = join(prefix, 'bin', 'tshpool');
    assert.ok(existsSync(bin), 'installed');
    const sb = await makeSandbox(st, { bin });
    // Run the installed command itself (shebang and symlink), as a user would.
    const tshpool = (args) => runProgram(bin, args, { env: sb.env, cwd: sb.home, timeout: 20_000 });
    assert.equal((await tshpool(['--version'])).stdout, `${pkg.version}\n`);
    const attach = await tshpool(['attach', '-b', 'x']);
    assert.equal(attach.code, 0, attach.stderr);
    const list = await tshpool(['list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^x\s+disconnected\s/m);
    assert.equal((await tshpool(['list', '--names'])).stdout, 'x\n');
    const pid = await sb.daemonPid();
    assert.ok(pid, 'a daemon runs');
    const installedBin = join(prefix, 'lib', 'node_modules', 'tshpool', 'bin', 'tshpool');
    assert.equal(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[1], installedBin, 'the daemon is the installed tshpool');

    const doctor = await tshpool(['doctor']);
    assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
    assert.match(doctor.stdout, /native addon loads \(peer credential check/);
    assert.match(doctor.stdout, /node-pty loads/);
    const units = await tshpool(['systemd', 'install', '--print']);
    assert.equal(units.code, 0, units.stderr);
    assert.ok(units.stdout.includes(`\nExecStart=${NODE} ${bin} daemon\n`), units.stdout);
  });

  await t.test("import('tshpool') from a script under the prefix exposes the library", async () => {
    const probe = join(prefix, 'lib', 'probe.mjs');
    writeFileSync(
      probe,
      `const m = await import('tshpool');
const composed = m.composeHooks(new m.NoopHooks(), new m.LoggingHooks(), { onNewSession() {} });
console.log(JSON.stringify({
  resolved: import.meta.resolve('tshpool'),
  types: { run: typeof m.run, composeHooks: typeof m.composeHooks, NoopHooks: typeof m.NoopHooks, LoggingHooks: typeof m.LoggingHooks, parseDuration: typeof m.parseDuration },
  composed: Object.keys(composed).sort(),
  duration: m.parseDuration('1h30m'),
}));
process.exitCode = await m.run(['--version']);
`,
    );
    const r = await runProgram(NODE, [probe], { cwd: join(prefix, 'lib'), env: { PATH: process.env.PATH, HOME: tmp }, timeout: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    const [json, version] = r.stdout.split('\n');
    const out = JSON.parse(json);
    assert.equal(out.resolved, `file://${join(prefix, 'lib', 'node_modules', 'tshpool', 'dist', 'index.js')}`, 'the installed package, not the checkout');
    assert.deepEqual(out.types, { run: 'function', composeHooks: 'function', NoopHooks: 'function', LoggingHooks: 'function', parseDuration: 'function' });
    assert.deepEqual(out.composed, ['onEvent', 'onNewSession']);
    assert.equal(out.duration, 5_400_000);
    assert.equal(version, pkg.version, 'run() is the CLI');
    const dts = readFileSync(join(prefix, 'lib', 'node_modules', 'tshpool', 'dist', 'index.d.ts'), 'utf8');
    for (const name of ['run', 'composeHooks', 'NoopHooks', 'LoggingHooks', 'Hooks', 'HookEvent']) assert.match(dts, new RegExp(`\\b${name}\\b`), `index.d.ts declares ${name}`);
  });

  await t.test('a wrapper project: the README example runs as written, require() works, a strict NodeNext TypeScript wrapper compiles and runs with tsx', async (st) => {
    const proj = join(tmp, 'wrapper-project');
    mkdirSync(join(proj, 'node_modules', '@types'), { recursive: true });
    assert.equal((await runProgram(npm, ['init', '-y'], { cwd: proj, env: npmEnv(), timeout: 30_000 })).code, 0);
    // An ES module project, as examples/wrapper.ts says (top-level await).
    assert.equal((await runProgram(npm, ['pkg', 'set', 'type=module'], { cwd: proj, env: npmEnv(), timeout: 30_000 })).code, 0);
    // The installed package, as `npm install tshpool` would place it (its own dependencies come along).
    symlinkSync(join(prefix, 'lib', 'node_modules', 'tshpool'), join(proj, 'node_modules', 'tshpool'));
    symlinkSync(join(ROOT, 'node_modules', '@types', 'node'), join(proj, 'node_modules', '@types', 'node'));
    const sb = await makeSandbox(st, { bin: join(proj, 'my-wrapper.mjs') });

    // require() from CommonJS.
    const cjs = await runProgram(NODE, ['-e', "const t = require('tshpool'); console.log(typeof t.run, typeof t.composeHooks)"], { cwd: proj, env: sb.env, timeout: 20_000 });
    assert.equal(cjs.stdout, 'function function\n', cjs.stderr);

    // The README's wrapper example, saved as my-wrapper.mjs, run as written.
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const example = /<!-- example: my-wrapper\.mjs -->\s*```js\n([\s\S]*?)```/.exec(readme);
    assert.ok(example, 'the README has the my-wrapper.mjs example');
    writeFileSync(join(proj, 'my-wrapper.mjs'), example[1], { mode: 0o755 });
    sb.env.MY_WRAPPER_LOG = join(tmp, 'my-wrapper.log');
    const made = await sb.run(['attach', '-b', 'readme']);
    assert.equal(made.code, 0, made.stderr);
    await sb.runOk(['kill', 'readme']);
    await waitUntil(() => existsSync(sb.env.MY_WRAPPER_LOG) && /readme: shell ended \(kill/.test(readFileSync(sb.env.MY_WRAPPER_LOG, 'utf8')), { message: 'the README example to log the session end' });
    assert.match(readFileSync(sb.env.MY_WRAPPER_LOG, 'utf8'), /^created readme$/m);
    const refused = await sb.run(['attach', '-b', 'tmp.x']);
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /session 'tmp\.x' refused: /);

    // examples/wrapper.ts: strict NodeNext TypeScript compiles against the installed types, and runs with tsx.
    copyFileSync(join(ROOT, 'examples', 'wrapper.ts'), join(proj, 'wrapper.ts'));
    writeFileSync(join(proj, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, types: ['node'] }, files: ['wrapper.ts'] }));
    const tsc = await runProgram(NODE, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', proj], { cwd: proj, env: sb.env, timeout: 60_000 });
    assert.equal(tsc.code, 0, tsc.stdout + tsc.stderr);
    const tsxSb = await makeSandbox(st, { bin: join(ROOT, 'node_modules', '.bin', 'tsx') });
    const viaTsx = await runProgram(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(proj, 'wrapper.ts'), 'attach', '-b', 'ts'], { cwd: proj, env: tsxSb.env, timeout: 30_000 });
    assert.equal(viaTsx.code, 0, viaTsx.stderr);
    const status = JSON.parse((await runProgram(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(proj, 'wrapper.ts'), 'status', '--json'], { cwd: proj, env: tsxSb.env, timeout: 30_000 })).stdout);
    assert.equal(status.hookHost.command.at(-1), join(proj, 'wrapper.ts'));
    assert.ok(status.hookHost.command.some((a) => /tsx/.test(a)), `the hook host runs with tsx's flags: ${status.hookHost.command.join(' ')}`);
    await waitUntil(async () => /hook event session\.created/.test(readFileSync(tsxSb.logPath, 'utf8')), { message: 'the TypeScript wrapper\'s LoggingHooks line' });
  });

  await t.test("README.md's relative links point at files in the package", () => {
    assert.ok(files, 'packed');
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/i.test(l));
    assert.ok(links.length > 0);
    const broken = links.filter((l) => (l.endsWith('/') ? ![...files.keys()].some((f) => f.startsWith(l)) : !files.has(l)));
    assert.deepEqual([...new Set(broken)], [], 'links to files the package (or the repository) does not have');
  });
});
