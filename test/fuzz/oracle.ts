/**
 * @fileoverview The fuzz oracle, run inside a killable child process (test/fuzz/child.ts). For one
 * input it must see either a typed HostAllocError, or an output that
 *   (a) passes WebAssembly.validate,
 *   (b) is compliant according to verify() (unless `force` was given: forced outputs may carry residue),
 *   (c) when the input itself instantiates and has the fixture's workload exports, runs the same
 *       workloads (test/harness/run.ts) with identical results on the JS host allocator.
 * Anything else (another exception, binaryen's `RuntimeError: Aborted(...)`, an invalid or
 * non-compliant output, different results) is a crash. Hangs and process deaths are detected by the
 * parent.
 */

import { createHostAllocator } from '../../src/host/index.js';
import { isHostAllocError, type TransformOptions, transform, verify } from '../../src/index.js';
import { type FixtureEntry, getFixture } from '../harness/fixtures.js';
import { instantiateWith, moduleAllocator, runWorkloads, type WorkloadResults } from '../harness/run.js';
import { WA } from '../harness/wasm.js';

export interface Job {
  id: number;
  bytes: Uint8Array;
  options: TransformOptions;
  /** The fixture the input was derived from (enables the workload comparison). */
  fixture?: string;
  /** Run wl_big too (slow); default: wl_mixed, wl_input, wl_output, wl_cxx. */
  fullWorkloads?: boolean;
}

export type Phase = 'transform' | 'validate' | 'verify' | 'run-original' | 'run-transformed';

export type CrashReason =
  | 'exception'
  | 'binaryen-abort'
  | 'invalid-output'
  | 'not-compliant'
  | 'behaviour'
  | 'mutated-input';

export type Verdict =
  | { kind: 'typed'; code: string }
  | {
      kind: 'valid';
      status: string;
      /** 'same' when compared, otherwise why not. */
      workloads: string;
    }
  | { kind: 'crash'; reason: CrashReason; phase: Phase; message: string; stack: string };

function describeError(e: unknown): { message: string; stack: string } {
  if (e instanceof Error) return { message: `${e.name}: ${e.message}`, stack: e.stack ?? '' };
  return { message: `non-Error thrown: ${typeof e} ${String(e)}`, stack: '' };
}

function lightEntry(entry: FixtureEntry, full: boolean): FixtureEntry {
  if (full) return entry;
  return { ...entry, growth: false, workloads: entry.workloads.filter((w) => w !== 'wl_big') };
}

export async function runJob(job: Job, phase: (p: Phase) => void): Promise<Verdict> {
  const input = job.bytes.slice();
  phase('transform');
  let out: Uint8Array;
  let status: string;
  let importModule = 'env';
  try {
    const r = await transform(job.bytes, job.options);
    out = r.bytes;
    status = r.report.status;
    importModule = r.report.importModule;
  } catch (e) {
    // HA040 says "a bug in wasm-hostalloc" (our output did not validate, or binaryen aborted):
    // typed for the user, but a crash for the fuzzer.
    if (isHostAllocError(e) && e.code !== 'HA040') return { kind: 'typed', code: e.code };
    const d = describeError(e);
    const reason: CrashReason = /Aborted|RuntimeError: unreachable|abort/i.test(d.message)
      ? 'binaryen-abort'
      : 'exception';
    return { kind: 'crash', reason, phase: 'transform', ...d };
  }
  if (!Buffer.from(job.bytes).equals(Buffer.from(input))) {
    return {
      kind: 'crash',
      reason: 'mutated-input',
      phase: 'transform',
      message: 'transform modified its input buffer',
      stack: '',
    };
  }
  phase('validate');
  if (!WA.validate(out)) {
    return {
      kind: 'crash',
      reason: 'invalid-output',
      phase: 'validate',
      message: `WebAssembly.validate rejects the output (status ${status}, input valid: ${WA.validate(input)})`,
      stack: '',
    };
  }
  if (!job.options.force) {
    phase('verify');
    try {
      const v = await verify(out);
      if (!v.compliant) {
        return {
          kind: 'crash',
          reason: 'not-compliant',
          phase: 'verify',
          message: `verify() finds the ${status} output non-compliant: ${v.problems.map((p) => `${p.code}: ${p.message}`).join(' | ')}`,
          stack: '',
        };
      }
    } catch (e) {
      return { kind: 'crash', reason: 'exception', phase: 'verify', ...describeError(e) };
    }
  }

  // (c) workloads, when the input is a runnable fixture mutant that instantiates.
  if (!job.fixture) return { kind: 'valid', status, workloads: 'not a fixture' };
  if (job.options.force) return { kind: 'valid', status, workloads: 'forced' };
  if (status !== 'transformed') return { kind: 'valid', status, workloads: status };
  const entry0 = getFixture(job.fixture);
  if (entry0.reference || entry0.glue !== undefined)
    return { kind: 'valid', status, workloads: 'fixture not standalone' };
  const entry = lightEntry(entry0, job.fullWorkloads ?? false);
  phase('run-original');
  let expected: WorkloadResults;
  try {
    const original = instantiateWith(input);
    if (!entry.workloads.every((w) => original.has(w)))
      return { kind: 'valid', status, workloads: 'input lacks workload exports' };
    expected = runWorkloads(original, moduleAllocator(original, entry), entry);
  } catch {
    return { kind: 'valid', status, workloads: 'input does not run' };
  }
  phase('run-transformed');
  try {
    const heap = createHostAllocator();
    const plugin = instantiateWith(out, { [importModule]: { ...heap.imports } });
    heap.attach(plugin.instance!);
    const actual = runWorkloads(plugin, { malloc: (n) => heap.malloc(n), free: (p) => heap.free(p) }, entry);
    const a = JSON.stringify(actual);
    const b = JSON.stringify(expected);
    if (a !== b) {
      return {
        kind: 'crash',
        reason: 'behaviour',
        phase: 'run-transformed',
        message: `workload results differ: original ${b}, transformed ${a}`,
        stack: '',
      };
    }
  } catch (e) {
    const d = describeError(e);
    return {
      kind: 'crash',
      reason: 'behaviour',
      phase: 'run-transformed',
      message: `the input runs its workloads, the transformed output fails: ${d.message}`,
      stack: d.stack,
    };
  }
  return { kind: 'valid', status, workloads: 'same' };
}
