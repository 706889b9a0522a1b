/**
 * @fileoverview Which bodies binaryen must read for the slice (./slice.ts): those the steps will
 * look into, predicted on the raw module by the same gates the steps apply before they walk a
 * body. A prediction that falls short costs a second transform (SliceMiss), never a different
 * output; `test/slice.test.ts` runs every fixture and real package with `read: 'slice-strict'`, so a
 * gap shows as a failing test.
 */

import { FINGERPRINTS } from '../fingerprints.js';
import type { ModuleInfo } from '../wasm/reader.js';
import { forwardedCallee } from '../wasm/shapes.js';
import { fingerprintShapes, MIN_FINGERPRINT_SIZE, signatureKey } from './passes/fingerprint.js';

/**
 * The functions whose bodies the steps will look into (absolute indices), by the same gates they
 * apply before they walk a body, on the raw module, its summaries (`shapeSizes` by absolute index,
 * binaryen's expression count without blocks, nops and unreachables) and its body shapes
 * (`shapes`, src/wasm/shapes.ts bodyShapes):
 *
 *   fingerprint             a module without names: functions of a size and signature some known
 *                           allocator has
 *   neutralise-initializer  the constructors: start, `_initialize` and what it forwards to,
 *                           `__wasm_call_ctors`
 *   dead-state-reads        bodies that drop a load from a constant address
 *   metadata-reads          bodies that load below a pointer (`load (X - k)`, a header probe)
 *
 * A prediction that falls short costs a second transform (SliceMiss), never a different output.
 */
export function predictedBodies(
  bytes: Uint8Array,
  info: ModuleInfo,
  shapeSizes: ArrayLike<number>,
  shapes: Uint8Array,
): number[] {
  // Each loop over the module's functions is a function of its own: V8 then optimises those, not
  // this function, which runs once per module.
  const out: number[] = [];
  if (!info.customSections.some((s) => s.name === 'name')) pushFingerprintSized(info, shapeSizes, out);
  pushConstructors(bytes, info, out);
  pushShaped(shapes, info.numImportedFunctions, out);
  return out;
}

/** Pushes to `out` the defined functions whose size (`shapeSizes`) and signature a fingerprint has. */
function pushFingerprintSized(info: ModuleInfo, shapeSizes: ArrayLike<number>, out: number[]): void {
  const known = fingerprintShapes(FINGERPRINTS);
  for (let i = info.numImportedFunctions; i < shapeSizes.length; i++) {
    const size = shapeSizes[i]!;
    if (size < MIN_FINGERPRINT_SIZE) continue;
    const type = info.types[info.functionTypes[i]!];
    if (type?.kind !== 'func' || !known.has(`${size}|${signatureKey(type.params, type.results)}`)) continue;
    out.push(i);
  }
}

/** Pushes to `out` the constructors: start, `_initialize` and what it forwards to, `__wasm_call_ctors`. */
function pushConstructors(bytes: Uint8Array, info: ModuleInfo, out: number[]): void {
  const imported = info.numImportedFunctions;
  if (info.start !== null) out.push(info.start);
  for (const e of info.exports) {
    if (e.kind !== 'function' || (e.name !== '_initialize' && e.name !== '__wasm_call_ctors')) continue;
    out.push(e.index);
    const inner = e.index >= imported ? forwardedCallee(bytes, info, e.index - imported) : null;
    if (inner !== null) out.push(inner);
  }
  for (const [i, name] of info.names.functions) if (name === '__wasm_call_ctors') out.push(i);
}

/** Pushes to `out` the functions (defined, after `imported`) that have any of the `shapes`. */
function pushShaped(shapes: Uint8Array, imported: number, out: number[]): void {
  for (let k = 0; k < shapes.length; k++) if (shapes[k] !== 0) out.push(imported + k);
}
