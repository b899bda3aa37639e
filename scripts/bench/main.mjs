/**
 * The benchmark's composition root: parses options, finds the tools, gives each
 * its sandbox, runs the steps (repetitions interleaved across tools so drift in a
 * noisy machine hits all alike), and writes JSON, Markdown and the chart.
 * Everything started is killed on the way out, also on failure, timeout and Ctrl-C.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseOptions, USAGE, UsageError } from './options.mjs';
import { renderChart } from './report/chart.mjs';
import { machineInfo } from './report/machine.mjs';
import { renderMarkdown } from './report/markdown.mjs';
import { addRatios, aggregate, evaluateTargets } from './report/summarize.mjs';
import { disposeAllSync, Sandbox } from './sandbox.mjs';
import { metricsOf, STEPS } from './steps/index.mjs';
import { TOOLS } from './tools/index.mjs';
import { ROOT } from './tools/tshpool.mjs';
import { fmt, log, withTimeout } from './util.mjs';

/** The whole run may not take longer than this; then everything is killed and the run fails. */
const WATCHDOG_MS = { quick: 8 * 60_000, full: 60 * 60_000 };

function installExitHandlers() {
  const bail = (code) => {
    disposeAllSync();
    process.exit(code);
  };
  process.on('SIGINT', () => {
    log('\ninterrupted: cleaning up');
    bail(130);
  });
  process.on('SIGTERM', () => bail(143));
  process.on('SIGHUP', () => bail(129));
  process.on('exit', () => disposeAllSync());
  process.on('uncaughtException', (err) => {
    log(`bench: internal error: ${err.stack ?? err}`);
    bail(1);
  });
}

/** An error message with what the tool can tell about it (tshpool: its daemon log). */
function withDiagnosis(tool, sb, message) {
  let diag = null;
  try {
    diag = tool.diagnose?.(sb) ?? null;
  } catch {
    // diagnosis is best effort
  }
  return diag ? `${message} (${diag})` : message;
}

const oneLine = (err) => String(err?.message ?? err).split('\n')[0].slice(0, 500);

function summaryLine(res, defs) {
  if (res.status !== 'ok') return res.status;
  const shown = defs.filter((d) => d.ratio || d.kind === 'bool');
  return shown.map((d) => `${d.label} ${fmt(res.metrics[d.key])}`).join(', ') + (res.errors.length ? ` (${res.errors.length} errors)` : '');
}

/** Writes benchmarks.json, benchmarks.md and benchmarks-chart.svg for what has been measured so far. */
function writeOutputs(report, outDir, t0, complete) {
  report.complete = complete;
  report.machine.loadavg_at_end = loadavg().map((x) => Math.round(x * 100) / 100);
  report.targets = evaluateTargets(report);
  report.duration_s = (Date.now() - t0) / 1000;
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'benchmarks.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, 'benchmarks-chart.svg'), renderChart(report));
  writeFileSync(join(outDir, 'benchmarks.md'), renderMarkdown(report, 'benchmarks-chart.svg'));
}

export async function main(argv) {
  let opts;
  try {
    opts = parseOptions(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`bench: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const t0 = Date.now();
  const outDir = resolve(opts.out ?? (opts.quick ? mkdtempSync(join(tmpdir(), 'tshpool-bench-')) : join(ROOT, 'docs')));
  const watchdog = setTimeout(() => {
    log(`bench: the run took longer than ${WATCHDOG_MS[opts.quick ? 'quick' : 'full'] / 60_000} min; killing everything`);
    disposeAllSync();
    process.exit(3);
  }, WATCHDOG_MS[opts.quick ? 'quick' : 'full']);
  watchdog.unref();
  installExitHandlers();

  // Tools: measure what is installed, say what is missing and how to get it.
  const toolInfo = {};
  const tools = [];
  for (const tool of TOOLS.filter((t) => opts.tools.includes(t.id))) {
    const p = await tool.probe().catch((err) => ({ ok: false, hint: oneLine(err) }));
    toolInfo[tool.id] = { kind: tool.kind, available: p.ok, version: p.version ?? null, ...(p.ok ? {} : { missing: p.hint }) };
    if (p.ok) tools.push(tool);
    else log(`bench: ${tool.id} is not available (${p.hint}); carrying on without it`);
  }
  log(`bench: tools: ${tools.map((t) => `${t.id} (${toolInfo[t.id].version})`).join(', ')}`);
  log(`bench: steps: ${opts.only.join(', ')}; reps ${opts.reps}, heavy reps ${opts.heavyReps}${opts.quick ? ', quick sizes' : ''}`);

  const sandboxes = new Map();
  for (const tool of tools) {
    const sb = new Sandbox(tool.id);
    tool.setup(sb);
    sandboxes.set(tool.id, sb);
  }

  const report = {
    schema: 1,
    generated: new Date().toISOString(),
    argv,
    duration_s: 0,
    options: { quick: opts.quick, reps: opts.reps, heavyReps: opts.heavyReps, steps: opts.only, sizes: opts.sizes },
    machine: machineInfo(),
    tools: toolInfo,
    steps: {},
    targets: [],
  };
  let subjectFailed = false;

  for (const step of STEPS.filter((s) => opts.only.includes(s.id))) {
    const defs = metricsOf(step, opts.sizes);
    const stepT0 = Date.now();
    log(`\n== ${step.title}: ${step.describe(opts.sizes)}`);
    const raw = new Map(tools.map((t) => [t.id, { rounds: [], errors: [] }]));
    const refRounds = [];
    const ctxOf = (tool) => ({ tool, sb: sandboxes.get(tool.id), sizes: opts.sizes });
    const reps = step.heavy ? opts.heavyReps : opts.reps;
    if (step.run) {
      // Steps with one costly set-up per tool (scale) measure all their rounds on it.
      for (const tool of tools) {
        const sb = sandboxes.get(tool.id);
        const tt = Date.now();
        try {
          raw.get(tool.id).rounds = await withTimeout(step.run(ctxOf(tool), reps), opts.sizes.heavyTimeoutMs * reps, `${step.id} on ${tool.id}`);
        } catch (err) {
          raw.get(tool.id).errors.push(withDiagnosis(tool, sb, oneLine(err)));
        }
        await sb.reset();
        log(`   ${tool.id.padEnd(9)} ${((Date.now() - tt) / 1000).toFixed(1)} s ${raw.get(tool.id).errors.map((e) => `ERROR ${e}`).join('; ')}`);
      }
    } else {
      for (let rep = 0; rep < reps; rep++) {
        if (step.reference) refRounds.push(await step.reference());
        // Rotate the order every repetition so no tool always runs right after another.
        const order = tools.map((_, i) => tools[(i + rep) % tools.length]);
        for (const tool of order) {
          try {
            raw.get(tool.id).rounds.push(await withTimeout(step.rep(ctxOf(tool)), step.heavy ? opts.sizes.heavyTimeoutMs : opts.sizes.repTimeoutMs, `${step.id} on ${tool.id}`));
          } catch (err) {
            raw.get(tool.id).errors.push(withDiagnosis(tool, sandboxes.get(tool.id), `rep ${rep + 1}: ${oneLine(err)}`));
            await sandboxes.get(tool.id).reset();
          }
        }
        log(`   rep ${rep + 1}/${reps} done (${((Date.now() - stepT0) / 1000).toFixed(1)} s)`);
      }
      for (const tool of tools) await sandboxes.get(tool.id).reset();
    }

    const results = {};
    for (const [id, info] of Object.entries(toolInfo)) {
      if (!info.available) {
        results[id] = { status: 'missing' };
        continue;
      }
      const r = raw.get(id);
      const agg = aggregate(r.rounds);
      const status = r.rounds.length === 0 ? 'error' : 'ok';
      results[id] = { status, reps: r.rounds.length, metrics: agg.metrics, samples: agg.samples, errors: r.errors, notes: [...new Set(agg.notes)] };
      if ((id === 'tshpool' || id === 'bare-pty') && status !== 'ok') subjectFailed = true;
    }
    const stepResult = {
      title: step.title,
      description: step.describe(opts.sizes),
      metricDefs: defs,
      results,
      ...(refRounds.length ? { reference: aggregate(refRounds) } : {}),
    };
    addRatios(stepResult, defs);
    report.steps[step.id] = stepResult;
    // Written after every step, so an interrupted run still leaves what it measured.
    writeOutputs(report, outDir, t0, false);
    for (const [id, res] of Object.entries(results)) log(`   ${id.padEnd(9)} ${summaryLine(res, defs)}${res.errors?.length ? `  [${res.errors[0]}]` : ''}`);
  }

  writeOutputs(report, outDir, t0, true);

  log('\n== targets (tshpool)');
  for (const t of report.targets.filter((x) => x.status !== 'n/a')) log(`   ${t.status.padEnd(6)} ${t.target}: ${t.shown}`);
  log(`\nbench: wrote ${join(outDir, 'benchmarks.md')}, benchmarks.json, benchmarks-chart.svg in ${report.duration_s.toFixed(0)} s`);

  for (const sb of sandboxes.values()) await sb.dispose();
  clearTimeout(watchdog);
  if (subjectFailed) log('bench: some steps failed for tshpool or the bare pty (see the errors above)');
  return subjectFailed ? 1 : 0;
}
