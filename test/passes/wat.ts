/**
 * @fileoverview WAT <-> wasm helpers for the golden tests, on binaryen.js with the same features the
 * transform uses (src/binaryen.ts baseFeatures).
 */

import { fileURLToPath } from 'node:url';
import binaryen from 'binaryen';
import {
  type Binaryen,
  type BinaryenModule,
  baseFeatures,
  captureOutput,
} from '../../src/binaryen/module.js';

export const B = binaryen as unknown as Binaryen;
/** This directory (test/passes/). */
export const DIR = fileURLToPath(new URL('./', import.meta.url));

/** Features beyond baseFeatures a test module needs. */
export interface WatFeatures {
  memory64?: boolean;
  atomics?: boolean;
  /** Extra binaryen feature names (e.g. 'MultiMemory', 'GC'). */
  extra?: string[];
}

function features(f: WatFeatures): number {
  let bits = baseFeatures(B, f);
  for (const name of f.extra ?? []) bits |= B.Features[name]!;
  return bits;
}

/**
 * Binary of a .wat with a name section (so allocator functions are found by name). The input is
 * validated unless `validate` is false (error tests feed deliberately odd modules).
 */
export function watToWasm(text: string, f: WatFeatures = {}, validate = true): Uint8Array {
  const mod = captureOutput(() => B.parseText(text)).result;
  const prev = B.getDebugInfo();
  try {
    mod.setFeatures(features(f));
    if (validate && !captureOutput(() => mod.validate()).result)
      throw new Error('test input does not validate');
    B.setDebugInfo(true);
    return mod.emitBinary().slice();
  } finally {
    B.setDebugInfo(prev);
    mod.dispose();
  }
}

/** binaryen's text of `bytes` (names kept when the binary has a name section). */
export function wasmToText(bytes: Uint8Array, f: WatFeatures = {}): string {
  const mod: BinaryenModule = captureOutput(() => B.readBinary(bytes)).result;
  try {
    mod.setFeatures(features(f));
    return mod.emitText();
  } finally {
    mod.dispose();
  }
}

/** binaryen's own verdict (for memory64, which Node 20's engine does not accept without a flag). */
export function binaryenValidates(bytes: Uint8Array, f: WatFeatures): boolean {
  const mod: BinaryenModule = captureOutput(() => B.readBinary(bytes)).result;
  try {
    mod.setFeatures(features(f));
    return !!captureOutput(() => mod.validate()).result;
  } finally {
    mod.dispose();
  }
}
