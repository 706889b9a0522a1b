/**
 * @fileoverview header-reads (analysis): what to do with each read of the old allocator's in-band
 * metadata that src/metadata-reads.ts found in code that survives the rewrite. Host blocks have no
 * header, so every such read must be rewritten into something the host answers, or the module
 * refused. Two idioms of dlmalloc (wasm32: `head` at p-4, flags in its low bits) are proven from
 * how the loaded value is used and rewritten:
 *
 *   calloc's "is the chunk fresh?" test      (load p-4) & 3, in a function that zeroes memory
 *     -> passes/calloc-always-clear.ts       3 & 3: always clear (correct for any calloc)
 *   malloc_usable_size                       (load p-4) & 3 / & -8 (in-use bits, chunk size)
 *     -> passes/usable-size-from-host.ts     host_usable_size(p) + 8: an mmapped chunk's header
 *
 * Anything else (another mask, the raw header compared or stored, prev_foot at p-8, a load whose
 * pointer is not a plain `local ± k`) is refused with the function, the offset and the evidence.
 */

import type { FunctionSummary, NegativeProbe } from '../../binaryen/walk.js';
import type { MetadataRead } from '../../metadata-reads.js';

/** dlmalloc's flag masks (PINUSE 1, CINUSE 2, INUSE 3, FLAG4 4, FLAG_BITS 7) and the size mask ~7. */
const FLAG_MASKS = new Set([1, 2, 3, 4, 7]);
const SIZE_MASK = -8;
const INUSE_MASK = 3;

export interface HeaderReadPlan {
  /** Loads to replace by "in use, must clear" (calloc-always-clear). */
  calloc: NegativeProbe[];
  /** Loads to replace by a header made from host_usable_size (usable-size-from-host). */
  usable: NegativeProbe[];
  /** Reads that cannot be proven harmless: the module must be refused. */
  refused: { func: string; read: MetadataRead; why: string }[];
}

export interface HeaderReadInput {
  reads: MetadataRead[];
  /** Binaryen's summaries, by function name. */
  summaries: Map<string, FunctionSummary>;
  /** The `X - k` loads of a function, in the order the pointer flow numbers them (walk.ts headerProbes). */
  probesOf: (func: string) => NegativeProbe[];
  /** Binaryen function names by index. */
  names: string[];
  /** Pointer size in bytes (the header word's size and offset). */
  pointerBytes: number;
  /** Whether a function zeroes memory (memory.fill, or a call to a memset-shaped function). */
  zeroes: (s: FunctionSummary) => boolean;
}

export function planHeaderReads(input: HeaderReadInput): HeaderReadPlan {
  const plan: HeaderReadPlan = { calloc: [], usable: [], refused: [] };
  const head = -input.pointerBytes;
  for (const read of input.reads) {
    const func = input.names[read.func] ?? `$${read.func}`;
    const refuse = (why: string): void => {
      plan.refused.push({ func, read, why });
    };
    const summary = input.summaries.get(func);
    const probe =
      read.probeIndex === undefined || !summary ? undefined : input.probesOf(func)[read.probeIndex];
    if (!summary || !probe || probe.delta !== read.delta || probe.bytes !== read.bytes) {
      refuse('the pointer is not a value minus a constant, so the load cannot be rewritten');
      continue;
    }
    if (read.otherUse) {
      refuse('the header value is used otherwise than masked (compared, stored or passed on)');
      continue;
    }
    if (read.delta !== head) {
      refuse(`it reads p${read.delta}, not the chunk head at p${head}`);
      continue;
    }
    const masks = read.masks;
    if (masks.length > 0 && masks.every((m) => m === INUSE_MASK)) {
      if (read.bytes !== 1 && read.bytes !== input.pointerBytes)
        refuse(`a ${read.bytes}-byte load of the head`);
      else if (!input.zeroes(summary)) refuse('it tests the in-use bits in a function that zeroes no memory');
      else plan.calloc.push(probe);
      continue;
    }
    if (masks.includes(SIZE_MASK) && masks.every((m) => m === SIZE_MASK || FLAG_MASKS.has(m))) {
      if (read.bytes !== input.pointerBytes) refuse(`a ${read.bytes}-byte load of the head`);
      else plan.usable.push(probe);
      continue;
    }
    refuse(
      masks.length === 0
        ? 'the raw header word is used'
        : `masks (& ${masks.join(', & ')}) match no idiom the tool can rewrite`,
    );
  }
  return plan;
}

/** A one-line description of a refused read, for messages. */
export function describeRefusedRead(r: HeaderReadPlan['refused'][number]): string {
  return `${r.func} reads p${r.read.delta} (${r.read.bytes} bytes${r.read.masks.length ? `, masked & ${r.read.masks.join(', & ')}` : ''}) of ${r.read.via}: ${r.why}`;
}
