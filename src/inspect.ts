/**
 * @fileoverview inspect(): the module's static memory layout and allocator family, the facts an
 * embedder cannot get from its runtime. Hazards are what transform() would find: inspect runs the
 * same pipeline (forced, output discarded), so the heap base and the family it reports are exactly
 * the ones transform() uses.
 */

import { withModule } from './binaryen/module.js';
import { isHostAllocError } from './errors.js';
import { readGlue } from './glue.js';
import { computeLayout } from './layout.js';
import { isCompliant, transform } from './transform/index.js';
import { findAllocator } from './transform/passes/find-allocator.js';
import { publicMember } from './transform/passes/replace-allocator.js';
import type { FamilyMember, InspectReport, TransformOptions } from './types.js';
import { verify } from './verify.js';
import { functionLabel, readModule, scanMemoryGrow } from './wasm/reader.js';

export interface InspectOptions {
  glue?: string;
  alloc?: TransformOptions['alloc'];
}

export async function inspect(input: Uint8Array, options: InspectOptions = {}): Promise<InspectReport> {
  const bytes = input.slice();
  const info = readModule(bytes);
  let layout = computeLayout(info, bytes);
  // As transform and verify judge it: the ABI's imports and marker, and verify() passing.
  const compliant = isCompliant(info) && (await verify(bytes)).compliant;
  const abiExport = info.exports.find((e) => e.name === '__hostalloc_abi' && e.kind === 'global');
  const abiVersion = abiExport ? (info.globals[abiExport.index]?.init ?? null) : null;
  let family: FamilyMember[] = [];
  let hazards: InspectReport['hazards'] = [];
  if (!compliant) {
    try {
      const { report } = await transform(bytes, { ...options, force: true, allowShared: true });
      layout = report.layout;
      hazards = report.hazards;
      family = report.replaced.map(({ replacement: _r, ...m }) => m);
    } catch (e) {
      if (!isHostAllocError(e)) throw e;
      // The pipeline refused before finding hazards (GC runtime, bad signature…): report what the
      // lookups alone find, and the refusal as a hazard.
      family = await familyOnly(bytes, options);
      hazards = [
        {
          kind:
            e.code === 'HA022'
              ? 'gc-runtime'
              : e.code === 'HA006'
                ? 'shared-memory'
                : 'unidentified-family-member',
          functions: [],
          message: `${e.code}: ${e.message}`,
        },
      ];
    }
  }
  return {
    schema: 1,
    size: bytes.length,
    layout,
    family,
    memoryGrowSites: scanMemoryGrow(bytes, info).map((i) => functionLabel(info, i)),
    imports: info.imports.map((i) => ({ module: i.module, name: i.name, kind: i.kind })),
    exports: info.exports.map((e) => ({ name: e.name, kind: e.kind })),
    hazards,
    compliant,
    abiVersion,
  };
}

async function familyOnly(bytes: Uint8Array, options: InspectOptions): Promise<FamilyMember[]> {
  try {
    return await withModule(bytes, { atomics: true, memory64: true }, (mod, b) =>
      findAllocator(b, mod, {
        alloc: options.alloc,
        glueExports: options.glue === undefined ? undefined : readGlue(options.glue).exports,
      }).map(publicMember),
    );
  } catch (e) {
    if (isHostAllocError(e)) return [];
    throw e;
  }
}
