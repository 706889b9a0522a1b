/**
 * Fuzz campaign of the JS host allocator against a shadow model (issue 19): random sequences of
 * valid and hostile calls through the `env.host_*` imports, as a plugin makes them, over a real
 * WebAssembly.Memory. After every step the model says exactly what must hold:
 *
 * - no overlap: a granule-resolution owner map of the heap (which live block covers each 8 bytes)
 *   must be empty under every new block, for its whole usable size;
 * - contents preserved: every block is filled with its own byte at birth and checked at free,
 *   realloc (up to the smaller size) and in sampled sweeps; the plugin also scribbles over free
 *   space and grows the memory itself, which the allocator must not mind;
 * - calloc returns zeros (over its usable size), also over scribbled or self-grown memory;
 * - errors exactly when expected: a hostile pointer's code is predicted from the model (below the
 *   heap HA104, beyond it HA105, inside a live block HA102, in free space HA103, usable_size of free
 *   space HA111) and valid calls never throw; a refused call changes nothing and counts one error;
 * - the allocator's own invariants (`allocator.check()`) at intervals and at the end.
 *
 * Bounded run: test/host/campaign.test.ts. Full run (1,000,000 operations):
 *   npx tsx test/host/campaign.ts 1000000 [seed] [granule]
 */

import { createHostAllocator, isHostAllocatorError } from '../../src/host/index.js';
import { WA } from '../../src/wasm-api.js';
import { Rng } from '../fuzz/bytes.js';
import type { WasmMemory } from '../harness/wasm.js';

const PAGE = 65536;

export interface CampaignResult {
  ops: number;
  mallocs: number;
  frees: number;
  reallocs: number;
  callocs: number;
  hostile: number;
  scribbles: number;
  selfGrows: number;
  failedAllocs: number;
  peakLive: number;
  finalPages: number;
  ms: number;
  /** Host metadata bytes per byte of heap at the end. */
  metadataPerHeapByte: number;
}

interface Block {
  size: number;
  usable: number;
  fill: number;
  id: number;
}

/** Runs `ops` operations with `seed`; throws an Error describing the first violation. */
export function runCampaign(ops: number, seed = 1, granule: 8 | 16 = 16, maxPages = 1024): CampaignResult {
  const t0 = performance.now();
  const heapBase = 1000 + (seed % 7) * 8;
  const memory = new WA.Memory({ initial: 2, maximum: maxPages }) as unknown as WasmMemory;
  const heap = createHostAllocator({ memory, heapBase, granule });
  const imp = heap.imports;
  const base = Math.ceil(heapBase / 16) * 16;
  const rng = new Rng(seed);
  const live = new Map<number, Block>();
  const liveList: number[] = [];
  const freed: number[] = [];
  let owner = new Int32Array(maxPages * (PAGE / 8));
  let nextId = 1;
  const r: CampaignResult = {
    ops,
    mallocs: 0,
    frees: 0,
    reallocs: 0,
    callocs: 0,
    hostile: 0,
    scribbles: 0,
    selfGrows: 0,
    failedAllocs: 0,
    peakLive: 0,
    finalPages: 0,
    ms: 0,
    metadataPerHeapByte: 0,
  };
  const u8 = () => new Uint8Array(memory.buffer);
  const fail = (step: number, what: string): never => {
    throw new Error(`campaign seed ${seed}, step ${step}: ${what}`);
  };

  const claim = (step: number, p: number, b: Block) => {
    if (p % granule !== 0) fail(step, `pointer ${p} not ${granule}-aligned`);
    if (p < base || p + b.usable > memory.buffer.byteLength)
      fail(step, `block ${p}+${b.usable} outside the heap`);
    for (let a = p >> 3; a < (p + b.usable) >> 3; a++) {
      if (owner[a] !== 0)
        fail(step, `block ${p} (${b.usable} B) overlaps live block #${owner[a]} at ${a * 8}`);
      owner[a] = b.id;
    }
    live.set(p, b);
    liveList.push(p);
    if (live.size > r.peakLive) r.peakLive = live.size;
  };
  const release = (p: number, b: Block) => {
    for (let a = p >> 3; a < (p + b.usable) >> 3; a++) owner[a] = 0;
    live.delete(p);
    const i = liveList.indexOf(p);
    liveList[i] = liveList[liveList.length - 1]!;
    liveList.pop();
    freed.push(p);
    if (freed.length > 64) freed.shift();
  };
  const verify = (step: number, p: number, b: Block, upTo = b.size) => {
    const m = u8();
    const n = Math.min(upTo, b.size);
    const stride = n > 256 ? 61 : 1;
    for (let i = 0; i < n; i += stride) {
      if (m[p + i] !== b.fill) fail(step, `block ${p}: byte ${i} is ${m[p + i]}, want ${b.fill}`);
    }
    if (n > 0 && m[p + n - 1] !== b.fill) fail(step, `block ${p}: last byte changed`);
  };
  const born = (step: number, p: number, size: number, zero: boolean): void => {
    const usable = Number(imp.host_usable_size(p));
    if (usable < size) fail(step, `usable size ${usable} < ${size}`);
    if (zero) {
      const m = u8();
      for (let i = 0; i < usable; i++)
        if (m[p + i] !== 0) fail(step, `calloc block ${p}: byte ${i} not zero`);
    }
    const b: Block = { size, usable, fill: 1 + rng.int(255), id: nextId++ };
    u8().fill(b.fill, p, p + size);
    claim(step, p, b);
  };
  const size = (): number => {
    const k = rng.int(100);
    if (k < 70) return rng.int(129);
    if (k < 90) return rng.int(2100);
    if (k < 98) return 2048 + rng.int(30000);
    return rng.int(200000);
  };
  /** The code a pointer must get, from the model (null: it is a live block start). */
  const expected = (q: number, op: 'free' | 'usable'): string | null => {
    if (q === 0) return null; // free(NULL) is a no-op, realloc(NULL, n) a malloc: not hostile
    if (q < base) return 'HA104';
    // The managed end: growth made by the plugin itself is adopted on the next allocation miss.
    if (q >= heap.stats().heapEnd) return 'HA105';
    if (live.has(q)) return null;
    const o = owner[q >> 3]!;
    if (o !== 0) return 'HA102';
    return op === 'usable' ? 'HA111' : 'HA103';
  };

  for (let step = 0; step < ops; step++) {
    // Allocation-heavy until ~3,000 live blocks, then balanced (frees take the allocation share).
    let k = rng.int(100);
    if (k < 14 && liveList.length > 3000) k = 40 + rng.int(26);
    if (k < 30 || liveList.length === 0) {
      const n = size();
      const p = imp.host_malloc(n) >>> 0;
      if (p === 0) r.failedAllocs++;
      else {
        r.mallocs++;
        born(step, p, n, false);
      }
    } else if (k < 36) {
      const n = rng.int(64);
      const z = rng.int(96);
      const p = imp.host_calloc(n, z) >>> 0;
      if (p === 0) r.failedAllocs++;
      else {
        r.callocs++;
        born(step, p, n * z, true);
      }
    } else if (k < 40) {
      const align = 2 ** rng.int(13);
      const n = rng.int(4000);
      const p = imp.host_aligned_alloc(align, n) >>> 0;
      if (p === 0) r.failedAllocs++;
      else {
        if (p % align !== 0) fail(step, `aligned_alloc(${align}) gave ${p}`);
        born(step, p, n, false);
      }
    } else if (k < 66) {
      const p = liveList[rng.int(liveList.length)]!;
      const b = live.get(p)!;
      verify(step, p, b);
      imp.host_free(p);
      r.frees++;
      release(p, b);
    } else if (k < 76) {
      const p = liveList[rng.int(liveList.length)]!;
      const b = live.get(p)!;
      verify(step, p, b);
      const n = rng.int(3) === 0 ? size() : Math.max(0, b.size + rng.int(200) - 100);
      const q = imp.host_realloc(p, n) >>> 0;
      r.reallocs++;
      if (n === 0) {
        if (q !== 0) fail(step, 'realloc(p, 0) returned non-null');
        release(p, b);
      } else if (q === 0) {
        r.failedAllocs++;
        verify(step, p, b); // failed: the old block is intact
      } else {
        release(p, b);
        freed.pop(); // not freed as far as the plugin knows unless moved
        if (q !== p) freed.push(p);
        verify(step, q, b, n);
        const usable = Number(imp.host_usable_size(q));
        if (usable < n) fail(step, `realloc usable ${usable} < ${n}`);
        const nb: Block = { size: n, usable, fill: b.fill, id: nextId++ };
        if (n > b.size) u8().fill(b.fill, q + b.size, q + n);
        claim(step, q, nb);
      }
    } else if (k < 90) {
      // Hostile: a freed, interior, misaligned, foreign or out-of-heap pointer.
      const end = memory.buffer.byteLength;
      const some = liveList[rng.int(liveList.length)]!;
      const cands = [
        freed.length ? freed[rng.int(freed.length)]! : base + 8,
        some + 1 + rng.int(Math.max(1, live.get(some)!.usable - 1)),
        some + rng.pick([1, 4, 8, 12]),
        rng.int(base),
        end + rng.int(1 << 20),
        base + rng.int(end - base),
        0xfffffff0,
      ];
      const q = cands[rng.int(cands.length)]!;
      const op = rng.int(3);
      const want = expected(q, op === 2 ? 'usable' : 'free');
      if (want === null) continue; // happened to be a live block: not hostile after all
      const before = heap.stats();
      let got = 'no error';
      try {
        if (op === 0) imp.host_free(q);
        else if (op === 1) imp.host_realloc(q, rng.int(100));
        else imp.host_usable_size(q);
      } catch (e) {
        got = isHostAllocatorError(e) ? e.code : `other: ${String(e)}`;
      }
      if (got !== want)
        fail(step, `hostile ${['free', 'realloc', 'usable_size'][op]}(${q}): got ${got}, want ${want}`);
      const after = heap.stats();
      if (after.errors !== before.errors + 1) fail(step, 'error not counted');
      if (JSON.stringify({ ...after, errors: 0 }) !== JSON.stringify({ ...before, errors: 0 })) {
        fail(step, 'a refused call changed the heap');
      }
      r.hostile++;
    } else if (k < 97) {
      // The plugin scribbles over free space (it may write anywhere in its memory).
      const m = u8();
      const end = m.length;
      for (let t = 0; t < 8; t++) {
        const a = (base + rng.int(end - base - 64)) & ~7;
        for (let i = a; i < a + 64; i += 8) if (owner[i >> 3] === 0) m.fill(0xee, i, Math.min(i + 8, end));
      }
      r.scribbles++;
    } else if (k < 98) {
      // The plugin grows the memory itself (1 time in 10 here) and writes into the new pages.
      const pages = memory.buffer.byteLength / PAGE;
      if (pages < maxPages && rng.int(10) === 0) {
        memory.grow(1);
        u8().fill(0xdd, pages * PAGE, (pages + 1) * PAGE);
        r.selfGrows++;
      }
    } else {
      // Sweep: every live block intact; allocator invariants.
      for (const p of liveList) verify(step, p, live.get(p)!);
      if (step % 50 === 0) heap.allocator!.check();
    }
    if (owner.length * 8 < memory.buffer.byteLength) {
      const o = new Int32Array(memory.buffer.byteLength / 8);
      o.set(owner);
      owner = o;
    }
  }
  for (const p of liveList) verify(ops, p, live.get(p)!);
  heap.allocator!.check();
  const s = heap.stats();
  if (s.blocks !== live.size) fail(ops, `stats().blocks ${s.blocks}, model ${live.size}`);
  for (const p of [...liveList]) {
    imp.host_free(p);
    release(p, live.get(p)!);
  }
  heap.allocator!.check();
  if (heap.stats().inUse !== 0) fail(ops, 'inUse not 0 after freeing everything');
  r.finalPages = memory.buffer.byteLength / PAGE;
  r.metadataPerHeapByte = s.hostMetadataBytes / (s.heapEnd - s.heapBase);
  r.ms = performance.now() - t0;
  return r;
}

// CLI: npx tsx test/host/campaign.ts OPS [SEED] [GRANULE]
if (import.meta.url === `file://${process.argv[1]}`) {
  const ops = Number(process.argv[2] ?? 1_000_000);
  const seed = Number(process.argv[3] ?? 1);
  const granule = Number(process.argv[4] ?? 16) as 8 | 16;
  const res = runCampaign(ops, seed, granule);
  process.stdout.write(`${JSON.stringify(res)}\n`);
}
