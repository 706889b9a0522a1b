/**
 * @fileoverview `npm run fuzz` — a bounded, seedable, resumable fuzz campaign of transform().
 *
 *   npm run fuzz                                # 10,000 inputs, seed 1
 *   npm run fuzz -- --seed 7 --count 20000 --jobs 4
 *   npm run fuzz -- --resume                    # continue the saved campaign (test/fuzz/.state/)
 *   npm run fuzz -- --replay test/reliability/crashers/NAME.wasm
 *   npm run fuzz -- --show 1234                 # write input 1234 of the seed to fuzz-input-1234.wasm
 *
 * Options: --seed N (1), --count N (10000), --jobs N (CPUs), --timeout MS (10000, per input),
 * --full-workloads (also wl_big), --crash-dir DIR (test/reliability/crashers), --state FILE
 * (test/fuzz/.state/campaign.json), --resume, --fresh (ignore saved state).
 * Last line: the summary; exit status 1 on any crash or hang. See docs/reliability.md.
 */

import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  loadCrashers,
  makeInput,
  ROOT,
  runCampaign,
  snapshotTree,
  summaryLine,
} from '../test/fuzz/campaign.js';

function parse(argv: string[]): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const [k, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
    if (inline !== undefined) out[k] = inline;
    else if (['resume', 'fresh', 'full-workloads', 'help', 'no-snapshot'].includes(k)) out[k] = true;
    else {
      const v = argv[++i];
      if (v === undefined) throw new Error(`--${k} needs a value`);
      out[k] = v;
    }
  }
  return out;
}

function int(v: string | boolean | undefined, dflt: number, what: string): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`--${what} must be a non-negative integer, got ${String(v)}`);
  return n;
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  if (args['help']) {
    process.stdout.write(
      'usage: npm run fuzz -- [--seed N] [--count N] [--jobs N] [--timeout MS] [--resume|--fresh] [--full-workloads] [--crash-dir DIR] [--state FILE] [--replay FILE.wasm] [--show INDEX]\n',
    );
    return 0;
  }
  const seed = int(args['seed'], 1, 'seed');
  const count = int(args['count'], 10_000, 'count');
  const jobs = int(args['jobs'], Math.max(1, os.availableParallelism?.() ?? os.cpus().length), 'jobs');
  const timeoutMs = int(args['timeout'], 10_000, 'timeout');
  const crashDir = path.resolve(String(args['crash-dir'] ?? path.join(ROOT, 'test/reliability/crashers')));
  const stateFile = path.resolve(String(args['state'] ?? path.join(ROOT, 'test/fuzz/.state/campaign.json')));

  if (args['show'] !== undefined) {
    const index = int(args['show'], 0, 'show');
    const input = makeInput(seed, index);
    const file = `fuzz-input-${seed}-${index}.wasm`;
    writeFileSync(file, input.bytes);
    process.stdout.write(
      `${file}: ${input.origin}: ${input.desc}; options ${JSON.stringify(input.options)}\n`,
    );
    return 0;
  }

  if (args['replay'] !== undefined) {
    const file = path.resolve(String(args['replay']));
    const all = loadCrashers(path.dirname(file));
    const one = all.find((c) => c.name === path.basename(file, '.wasm'));
    if (!one) throw new Error(`no reproducer ${file}`);
    const s = await runCampaign({ seed, count: 1, jobs: 1, timeoutMs, inputs: [{ ...one.input, index: 0 }] });
    process.stdout.write(`${JSON.stringify(s.crashers, null, 2)}\n${summaryLine(s)}\n`);
    return s.crashes + s.hangs > 0 ? 1 : 0;
  }

  const resume = args['resume'] === true && args['fresh'] !== true;
  process.stderr.write(
    `fuzz: seed ${seed}, ${count} inputs, ${jobs} jobs, timeout ${timeoutMs} ms${resume ? ' (resuming)' : ''}; reproducers -> ${path.relative(ROOT, crashDir)}\n`,
  );
  // The children run a snapshot of the tree: a long campaign tests one version even while others edit.
  const snapshot = args['no-snapshot'] === true ? undefined : snapshotTree();
  const summary = await runCampaign({
    childRoot: snapshot,
    seed,
    count,
    jobs,
    timeoutMs,
    crashDir,
    stateFile,
    resume,
    fullWorkloads: args['full-workloads'] === true,
    progressEvery: 250,
    onProgress: (s) => process.stderr.write(`  ${summaryLine(s)}\n`),
  });
  if (snapshot) rmSync(snapshot, { recursive: true, force: true });
  for (const c of summary.crashers) {
    process.stdout.write(
      `crash ${c.name} (x${c.count}): input ${c.index} of seed ${c.seed}, ${c.origin}: ${c.desc}\n` +
        `  options ${JSON.stringify(c.options)}\n  ${c.reason} in ${c.phase}: ${c.message.split('\n')[0]}\n`,
    );
  }
  const codes = Object.entries(summary.codes)
    .sort()
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const statuses = Object.entries(summary.statuses)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  process.stdout.write(`typed errors by code: ${codes}\nvalid outputs by status: ${statuses}\n`);
  process.stdout.write(`${summaryLine(summary)}\n`);
  return summary.crashes + summary.hangs > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`fuzz: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 2;
  },
);
