/**
 * @fileoverview The fuzz campaign: makes inputs (mutated fixtures, generated modules), runs each in a
 * pool of killable child processes with a per-input timeout, classifies the verdicts, saves one
 * reproducer per distinct crash, and keeps resumable state. Input `i` of a campaign depends only on
 * (seed, i), so any input can be replayed alone and a resumed campaign is the same campaign.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TransformOptions } from '../../src/types.js';
import { inputSeed, Rng } from './bytes.js';
import { generateModule } from './generate.js';
import { mutate } from './mutate.js';
import type { Job, Phase, Verdict } from './oracle.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Copies the code the children run (src, passes, scripts, test/harness, fixtures) to a temporary
 * directory, so a long campaign tests one version of the tree even while others edit it. node_modules
 * is symlinked. Returns the snapshot's root.
 */
export function snapshotTree(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hostalloc-fuzz-'));
  for (const d of ['src', 'passes', 'scripts', 'test/harness', 'fixtures', 'package.json', 'tsconfig.json']) {
    if (existsSync(path.join(ROOT, d)))
      cpSync(path.join(ROOT, d), path.join(dir, d), {
        recursive: true,
        filter: (src) => !src.includes(`${path.sep}.state`) && !src.includes(`${path.sep}build${path.sep}`),
      });
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

export interface FuzzInput {
  index: number;
  bytes: Uint8Array;
  options: TransformOptions;
  /** 'generated' or the fixture it mutates. */
  origin: string;
  fixture?: string;
  desc: string;
  generated: boolean;
  /**
   * False when the input lies about which function is the allocator (retargeted or renamed exports,
   * allocator names given to other functions, explicit `alloc` options): the transform trusts names
   * by design, so replacing the "wrong" function changes behaviour and (c) does not apply.
   */
  compareWorkloads?: boolean;
}

interface Seed {
  name: string;
  bytes: Uint8Array;
  fixture?: string;
}

let seedsCache: Seed[] | undefined;

/** Seeds: every fixture module plus the committed host-ABI plugin (an already compliant module). */
export function loadSeeds(): Seed[] {
  if (seedsCache) return seedsCache;
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'fixtures/manifest.json'), 'utf8')) as {
    fixtures: { name: string; file: string }[];
  };
  const seeds: Seed[] = manifest.fixtures.map((f) => ({
    name: f.name,
    fixture: f.name,
    bytes: new Uint8Array(readFileSync(path.join(ROOT, 'fixtures', f.file))),
  }));
  const hostabi = path.join(ROOT, 'test/native/plugin_hostabi.wasm');
  if (existsSync(hostabi))
    seeds.push({ name: 'plugin_hostabi', bytes: new Uint8Array(readFileSync(hostabi)) });
  seedsCache = seeds;
  return seeds;
}

function randomOptions(rng: Rng): TransformOptions {
  if (rng.chance(0.7)) return {};
  const o: TransformOptions = {};
  if (rng.chance(0.3)) o.keepExports = true;
  if (rng.chance(0.2)) o.allowShared = true;
  if (rng.chance(0.15)) o.force = true;
  if (rng.chance(0.15)) o.keepDwarf = true;
  if (rng.chance(0.2)) o.importModule = rng.pick(['env', 'host', 'hostalloc', 'a', '', 'bad\u0001', 'ü']);
  if (rng.chance(0.15))
    o.alloc = rng.pick([
      { malloc: 'malloc' },
      { malloc: 'nope' },
      { free: '$0' },
      { malloc: '$99999' },
      { realloc: 'free' },
      { calloc: '$malloc' },
    ]);
  return o;
}

/** Input `index` of the campaign `seed`. */
export function makeInput(seed: number, index: number): FuzzInput {
  const rng = new Rng(inputSeed(seed, index));
  const options = randomOptions(rng);
  if (rng.chance(0.3)) {
    const g = generateModule(rng);
    const s = g.shape;
    return {
      index,
      bytes: g.bytes,
      options,
      origin: 'generated',
      generated: true,
      desc: `generated ${s.memory64 ? 'memory64 ' : ''}${s.shared ? 'shared ' : ''}${s.layout}, ${s.functions} funcs, ${s.dataSegments} data${s.table ? ', table' : ''}${s.start ? ', start' : ''}${s.grows ? ', grows' : ''}${s.residue ? ', residue' : ''}${s.importedMemory ? ', imported memory' : ''}`,
    };
  }
  const seeds = loadSeeds();
  const s = rng.pick(seeds);
  if (rng.chance(0.03)) {
    return {
      index,
      bytes: s.bytes.slice(),
      options,
      origin: s.name,
      fixture: s.fixture,
      desc: 'unmutated',
      generated: false,
    };
  }
  const m = mutate(rng, s.bytes);
  const lies = /exports: |names: name section: (function names renamed|insert)|insert name section/.test(
    m.desc,
  );
  return {
    index,
    bytes: m.bytes,
    options,
    origin: s.name,
    fixture: s.fixture,
    desc: m.desc,
    generated: false,
    compareWorkloads: !lies && !m.changesCode && options.alloc === undefined,
  };
}

// ---- results

export type Outcome =
  | 'valid'
  | 'typed'
  | 'crash'
  | 'hang'
  /** The original input itself loops while running its workloads: not the transform's fault. */
  | 'input-hang';

export interface CrashRecord {
  signature: string;
  name: string;
  index: number;
  seed: number;
  origin: string;
  desc: string;
  options: TransformOptions;
  reason: string;
  phase: string;
  message: string;
  stack: string;
  /** Same signature seen this many times. */
  count: number;
}

export interface Summary {
  seed: number;
  tried: number;
  valid: number;
  typed: number;
  crashes: number;
  hangs: number;
  inputHangs: number;
  generated: number;
  /** Generated modules WebAssembly.validate rejects: generator bugs (should be 0). */
  generatorInvalid: number;
  /** Indices of the first generator-invalid inputs (replay with --show). */
  generatorInvalidInputs: number[];
  /** Valid outputs whose workloads were compared with the input's. */
  workloadsCompared: number;
  codes: Record<string, number>;
  statuses: Record<string, number>;
  crashers: CrashRecord[];
  elapsedMs: number;
}

export function emptySummary(seed: number): Summary {
  return {
    seed,
    tried: 0,
    valid: 0,
    typed: 0,
    crashes: 0,
    hangs: 0,
    inputHangs: 0,
    generated: 0,
    generatorInvalid: 0,
    generatorInvalidInputs: [],
    workloadsCompared: 0,
    codes: {},
    statuses: {},
    crashers: [],
    elapsedMs: 0,
  };
}

export function summaryLine(s: Summary): string {
  return (
    `fuzz: seed ${s.seed}: ${s.tried} inputs tried, ${s.valid} valid outputs (${s.workloadsCompared} with workloads compared), ` +
    `${s.typed} typed errors, ${s.crashes} crashes, ${s.hangs} hangs` +
    ` [${s.crashers.length} distinct crash signatures, ${s.inputHangs} input hangs, ${s.generated} generated, ${s.generatorInvalid} generator-invalid] in ${(s.elapsedMs / 1000).toFixed(1)} s`
  );
}

// ---- the child pool

interface Result {
  verdict:
    | Verdict
    | { kind: 'hang'; phase: Phase }
    | { kind: 'died'; phase: Phase; stderr: string; code: number | null; signal: string | null };
  inputValid: boolean;
}

class Worker {
  private child: ChildProcess | undefined;
  private ready: Promise<void> | undefined;
  private stderr = '';
  private jobs = 0;
  constructor(
    private readonly timeoutMs: number,
    private readonly recycleAfter: number,
    private readonly root: string,
  ) {}

  /** Starts a child; retries (others may be mid-edit of the tree the child compiles). */
  private async start(): Promise<void> {
    let last: unknown;
    for (let attempt = 0; attempt < 6; attempt++) {
      try {
        return await this.startOnce();
      } catch (e) {
        last = e;
        await new Promise((r) => setTimeout(r, 5000));
      }
    }
    throw last;
  }

  private startOnce(): Promise<void> {
    this.stderr = '';
    this.jobs = 0;
    const child = spawn(
      process.execPath,
      [
        '--experimental-wasm-memory64',
        '--import',
        'binaryen',
        '--import',
        'tsx',
        path.join(this.root, 'test/fuzz/child.ts'),
      ],
      {
        cwd: this.root,
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        serialization: 'advanced',
        env: { ...process.env, NODE_NO_WARNINGS: '1' },
      },
    );
    this.child = child;
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString('utf8')).slice(-8000);
    });
    return new Promise((resolve, reject) => {
      const onMsg = (m: { type: string }) => {
        if (m.type === 'ready') {
          child.off('message', onMsg);
          child.off('exit', onExit);
          resolve();
        }
      };
      const onExit = (code: number | null) =>
        reject(new Error(`fuzz child exited (${code}) before ready: ${this.stderr}`));
      child.on('message', onMsg);
      child.on('exit', onExit);
    });
  }

  async run(job: Job): Promise<Result> {
    if (this.child && this.jobs >= this.recycleAfter) this.stop();
    if (!this.child) this.ready = this.start();
    await this.ready;
    this.jobs++;
    const child = this.child!;
    return new Promise<Result>((resolve) => {
      let phase: Phase = 'transform';
      let settled = false;
      const finish = (r: Result, kill: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        child.off('message', onMsg);
        child.off('exit', onExit);
        if (kill) this.stop();
        resolve(r);
      };
      const onMsg = (m: {
        type: string;
        id: number;
        phase?: Phase;
        verdict?: Verdict;
        inputValid?: boolean;
      }) => {
        if (m.id !== job.id) return;
        if (m.type === 'phase' && m.phase) phase = m.phase;
        else if (m.type === 'done') {
          // After a binaryen abort the child's binaryen.js is unusable: replace the child.
          const aborted = m.verdict?.kind === 'crash' && m.verdict.reason === 'binaryen-abort';
          finish({ verdict: m.verdict!, inputValid: m.inputValid ?? false }, aborted);
        }
      };
      const onExit = (code: number | null, signal: string | null) => {
        this.child = undefined;
        finish(
          { verdict: { kind: 'died', phase, stderr: this.stderr, code, signal }, inputValid: false },
          false,
        );
      };
      const timer = setTimeout(
        () => finish({ verdict: { kind: 'hang', phase }, inputValid: false }, true),
        this.timeoutMs,
      );
      child.on('message', onMsg);
      child.on('exit', onExit);
      child.send(job);
    });
  }

  stop(): void {
    const c = this.child;
    this.child = undefined;
    if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

// ---- the campaign

export interface CampaignOptions {
  seed: number;
  count: number;
  jobs?: number;
  timeoutMs?: number;
  /** Where reproducers of new crash signatures are written (none when undefined). */
  crashDir?: string;
  /** JSON state file for --resume (none when undefined). */
  stateFile?: string;
  resume?: boolean;
  fullWorkloads?: boolean;
  recycleAfter?: number;
  /** Called every `progressEvery` inputs. */
  onProgress?: (s: Summary) => void;
  progressEvery?: number;
  /** Tree the children run (default: this repository; see snapshotTree). */
  childRoot?: string;
  /** Called for every input with its outcome. */
  onResult?: (input: FuzzInput, outcome: Outcome, detail: string) => void;
  /** Explicit inputs instead of makeInput (used to replay crashers). */
  inputs?: FuzzInput[];
}

interface State {
  seed: number;
  count: number;
  /** Every input below this index is done. */
  watermark: number;
  /** Done inputs at or above the watermark. */
  doneAbove: number[];
  summary: Summary;
}

function signatureOf(reason: string, phase: string, message: string, stack: string): string {
  if (reason === 'not-compliant') {
    // One signature per set of verify() problem codes.
    const codes = [...message.matchAll(/(?:^|\| |: )([a-z]+(?:-[a-z0-9]+)+): /g)].map((m) => m[1]);
    return `${reason}|${phase}|${[...new Set(codes)].sort().join(',')}`;
  }
  if (reason === 'invalid-output') return `${reason}|${phase}|${/status ([a-z-]+)/.exec(message)?.[1] ?? ''}`;
  if (reason === 'behaviour') return `${reason}|${phase}|${message.replace(/\d+/g, 'N').slice(0, 60)}`;
  const norm = message
    .replace(/\d+/g, 'N')
    .replace(/original \[.*$/, 'original …')
    .slice(0, 160);
  const frame =
    stack
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.startsWith('at ') && /(src|passes)\//.test(l))
      ?.replace(/:\d+:\d+\)?$/, '') ?? '';
  return `${reason}|${phase}|${norm}|${frame}`;
}

/** Records one result into the summary; returns a crash record when it is a new crash signature. */
function record(
  s: Summary,
  input: FuzzInput,
  r: Result,
): { outcome: Outcome; crash?: CrashRecord; detail: string } {
  s.tried++;
  if (input.generated) {
    s.generated++;
    if (!r.inputValid && r.verdict.kind !== 'hang' && r.verdict.kind !== 'died') {
      s.generatorInvalid++;
      if (s.generatorInvalidInputs.length < 20) s.generatorInvalidInputs.push(input.index);
    }
  }
  const v = r.verdict;
  let reason: string;
  let phase: string;
  let message: string;
  let stack = '';
  switch (v.kind) {
    case 'valid':
      s.valid++;
      s.statuses[v.status] = (s.statuses[v.status] ?? 0) + 1;
      if (v.workloads === 'same') s.workloadsCompared++;
      return { outcome: 'valid', detail: `${v.status}, workloads: ${v.workloads}` };
    case 'typed':
      s.typed++;
      s.codes[v.code] = (s.codes[v.code] ?? 0) + 1;
      return { outcome: 'typed', detail: v.code };
    case 'hang':
      if (v.phase === 'run-original') {
        s.inputHangs++;
        return { outcome: 'input-hang', detail: 'the input itself hangs running its workloads' };
      }
      s.hangs++;
      reason = 'hang';
      phase = v.phase;
      message = `no answer within the timeout (phase ${v.phase})`;
      break;
    case 'died':
      s.crashes++;
      reason = 'process-death';
      phase = v.phase;
      message = `the process died (code ${v.code}, signal ${v.signal}) in phase ${v.phase}`;
      stack = v.stderr.slice(-3000);
      break;
    case 'crash':
      s.crashes++;
      reason = v.reason;
      phase = v.phase;
      message = v.message;
      stack = v.stack;
      break;
  }
  const signature = signatureOf(reason, phase, message, stack);
  const existing = s.crashers.find((c) => c.signature === signature);
  if (existing) {
    existing.count++;
    return { outcome: v.kind === 'hang' ? 'hang' : 'crash', detail: `${reason} in ${phase}: ${message}` };
  }
  const hash = createHash('sha1').update(signature).digest('hex').slice(0, 8);
  const crash: CrashRecord = {
    signature,
    name: `${reason}-${hash}`,
    index: input.index,
    seed: s.seed,
    origin: input.origin,
    desc: input.desc,
    options: input.options,
    reason,
    phase,
    message: message.slice(0, 4000),
    stack: stack.slice(0, 4000),
    count: 1,
  };
  s.crashers.push(crash);
  return {
    outcome: v.kind === 'hang' ? 'hang' : 'crash',
    crash,
    detail: `${reason} in ${phase}: ${message}`,
  };
}

function saveCrash(dir: string, crash: CrashRecord, input: FuzzInput): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${crash.name}.wasm`), input.bytes);
  const meta = { ...crash, fixture: input.compareWorkloads === false ? null : (input.fixture ?? null) };
  writeFileSync(path.join(dir, `${crash.name}.json`), `${JSON.stringify(meta, null, 2)}\n`);
}

function saveState(file: string, st: State): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(st));
  renameSync(tmp, file);
}

export async function runCampaign(opts: CampaignOptions): Promise<Summary> {
  const t0 = Date.now();
  const explicit = opts.inputs;
  const count = explicit ? explicit.length : opts.count;
  let state: State = {
    seed: opts.seed,
    count,
    watermark: 0,
    doneAbove: [],
    summary: emptySummary(opts.seed),
  };
  if (opts.resume && opts.stateFile && existsSync(opts.stateFile)) {
    const saved = JSON.parse(readFileSync(opts.stateFile, 'utf8')) as State;
    if (saved.seed !== opts.seed)
      throw new Error(
        `--resume: the saved campaign has seed ${saved.seed}, not ${opts.seed} (pass --seed ${saved.seed})`,
      );
    state = { ...saved, count: Math.max(saved.count, count) };
  }
  const summary = state.summary;
  const elapsedBefore = summary.elapsedMs;
  const done = new Set(state.doneAbove);
  const todo: number[] = [];
  for (let i = state.watermark; i < state.count; i++) if (!done.has(i)) todo.push(i);

  const jobs = Math.max(1, opts.jobs ?? 2);
  const workers = Array.from(
    { length: jobs },
    () => new Worker(opts.timeoutMs ?? 10_000, opts.recycleAfter ?? 1500, opts.childRoot ?? ROOT),
  );
  let cursor = 0;
  let sinceSave = 0;
  const every = opts.progressEvery ?? 250;
  const persist = () => {
    if (!opts.stateFile) return;
    let w = state.watermark;
    while (done.has(w)) {
      done.delete(w);
      w++;
    }
    state.watermark = w;
    state.doneAbove = [...done];
    summary.elapsedMs = elapsedBefore + (Date.now() - t0);
    saveState(opts.stateFile, state);
  };
  const lane = async (worker: Worker) => {
    for (;;) {
      const k = cursor++;
      if (k >= todo.length || aborted) return;
      const index = todo[k]!;
      const input = explicit ? explicit[index]! : makeInput(opts.seed, index);
      const job: Job = {
        id: index,
        bytes: input.bytes,
        options: input.options,
        fixture: input.compareWorkloads === false ? undefined : input.fixture,
        fullWorkloads: opts.fullWorkloads,
      };
      const r = await worker.run(job);
      const { crash, outcome, detail } = record(summary, input, r);
      opts.onResult?.(input, outcome, detail);
      if (crash && opts.crashDir) saveCrash(opts.crashDir, crash, input);
      done.add(index);
      if (++sinceSave >= 50) {
        sinceSave = 0;
        persist();
      }
      if (opts.onProgress && summary.tried % every === 0) {
        summary.elapsedMs = elapsedBefore + (Date.now() - t0);
        opts.onProgress(summary);
      }
    }
  };
  let aborted = false;
  try {
    await Promise.all(
      workers.map((w) =>
        lane(w).catch((e: unknown) => {
          aborted = true;
          throw e;
        }),
      ),
    );
  } finally {
    aborted = true;
    for (const w of workers) w.stop();
  }
  persist();
  summary.elapsedMs = elapsedBefore + (Date.now() - t0);
  return summary;
}

/** Reproducers saved in `dir` (name.wasm + name.json), as campaign inputs. */
export function loadCrashers(
  dir: string,
): { name: string; input: FuzzInput; meta: CrashRecord & { fixture: string | null } }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.wasm'))
    .sort()
    .map((f, i) => {
      const name = f.slice(0, -5);
      const metaPath = path.join(dir, `${name}.json`);
      const meta = existsSync(metaPath)
        ? (JSON.parse(readFileSync(metaPath, 'utf8')) as CrashRecord & { fixture: string | null })
        : ({ options: {}, fixture: null } as unknown as CrashRecord & { fixture: string | null });
      return {
        name,
        meta,
        input: {
          index: i,
          bytes: new Uint8Array(readFileSync(path.join(dir, f))),
          options: meta.options ?? {},
          origin: meta.origin ?? 'crasher',
          fixture: meta.fixture ?? undefined,
          desc: meta.desc ?? name,
          generated: false,
        },
      };
    });
}
