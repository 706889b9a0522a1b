/**
 * @fileoverview Mutators over real modules (the fixtures): byte flips, truncations, section
 * shuffles/duplications/deletions, LEB tampering (section sizes and vector counts: off by a little,
 * huge, overlong), name-section corruption, export retargeting, memory-limit rewrites, random custom
 * sections. Each returns new bytes and a short description; the input is never modified.
 */

import {
  concat,
  HEADER,
  joinSections,
  name,
  type RawSection,
  type Rng,
  readUleb,
  section,
  splitSections,
  uleb,
  ulebPadded,
  vec,
} from './bytes.js';

export interface Mutation {
  bytes: Uint8Array;
  desc: string;
  /**
   * True when the mutation may change what the code does (a flip outside custom sections, a moved,
   * duplicated or deleted known section, a LEB rewrite, new memory limits). The workload comparison
   * does not apply then: mutated code may read past its blocks, so its results depend on the allocator.
   */
  changesCode?: boolean;
}

type Mutator = (rng: Rng, input: Uint8Array) => Mutation | null;

const flip: Mutator = (rng, input) => {
  const out = input.slice();
  const n = rng.pick([1, 1, 2, 4, 8, 32]);
  const at: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = 8 + rng.int(out.length - 8);
    at.push(p);
    out[p] = rng.chance(0.5) ? out[p]! ^ (1 << rng.int(8)) : rng.int(256);
  }
  const sections = splitSections(input) ?? [];
  const inCustom = (p: number) =>
    sections.some((x) => x.id === 0 && p >= x.offset && p < x.offset + x.payload.length);
  return {
    bytes: out,
    desc: `flip ${n} byte(s) at ${at.slice(0, 4).join(',')}`,
    changesCode: !at.every(inCustom),
  };
};

const truncate: Mutator = (rng, input) => {
  const len = rng.chance(0.2) ? rng.int(16) : rng.int(input.length);
  return { bytes: input.slice(0, len), desc: `truncate to ${len}`, changesCode: true };
};

function withSections(input: Uint8Array, f: (s: RawSection[]) => string | null): Mutation | null {
  const s = splitSections(input);
  if (!s || s.length === 0) return null;
  const before = s.filter((x) => x.id !== 0).map((x) => x.payload);
  const desc = f(s);
  if (desc === null) return null;
  const after = s.filter((x) => x.id !== 0).map((x) => x.payload);
  const same = before.length === after.length && before.every((p, i) => p === after[i]);
  return { bytes: joinSections(s), desc, changesCode: !same };
}

const shuffle: Mutator = (rng, input) =>
  withSections(input, (s) => {
    const i = rng.int(s.length);
    const j = rng.int(s.length);
    [s[i], s[j]] = [s[j]!, s[i]!];
    return `swap sections ${i} and ${j}`;
  });

const duplicate: Mutator = (rng, input) =>
  withSections(input, (s) => {
    const i = rng.int(s.length);
    const at = rng.int(s.length + 1);
    s.splice(at, 0, s[i]!);
    return `duplicate section ${i} (id ${s[at]!.id}) at ${at}`;
  });

const remove: Mutator = (rng, input) =>
  withSections(input, (s) => {
    const i = rng.int(s.length);
    const [gone] = s.splice(i, 1);
    return `delete section ${i} (id ${gone!.id}${gone!.customName ? ` ${gone!.customName}` : ''})`;
  });

/** Rewrites a section-size LEB or a section's first LEB (its vector count). */
const leb: Mutator = (rng, input) => {
  const s = splitSections(input);
  if (!s || s.length === 0) return null;
  const i = rng.int(s.length);
  const mode = rng.int(6);
  const newValue = (old: number): number =>
    mode === 0
      ? old + rng.range(1, 3)
      : mode === 1
        ? Math.max(0, old - rng.range(1, 3))
        : mode === 2
          ? 0xffffffff
          : mode === 3
            ? rng.pick([0, 0x7fffffff, 0x10000000, old * 2 + 1])
            : old;
  const parts: (Uint8Array | number[])[] = [HEADER];
  let desc = '';
  s.forEach((sec, k) => {
    if (k !== i) {
      parts.push(section(sec.id, [...sec.payload]));
      return;
    }
    if (rng.chance(0.5) || sec.payload.length === 0) {
      const v = newValue(sec.payload.length);
      const enc = mode === 4 ? ulebPadded(v, 5) : mode === 5 ? [0x80, 0x80, 0x80, 0x80, 0x80, 0x00] : uleb(v);
      parts.push([sec.id, ...enc], sec.payload);
      desc = `section ${k} (id ${sec.id}) size ${sec.payload.length} -> ${mode === 5 ? 'overlong-6' : v}${mode === 4 ? ' (padded)' : ''}`;
    } else {
      const first = readUleb(sec.payload, 0);
      if (!first) return;
      const v = newValue(first.value);
      const enc = mode === 4 ? ulebPadded(v, 5) : mode === 5 ? [0xff, 0xff, 0xff, 0xff, 0x7f] : uleb(v);
      const payload = concat([enc, sec.payload.subarray(first.next)]);
      parts.push([sec.id, ...uleb(payload.length)], payload);
      desc = `section ${k} (id ${sec.id}) first LEB ${first.value} -> ${v}`;
    }
  });
  return { bytes: concat(parts), desc, changesCode: true };
};

const ALLOC_NAMES = [
  'malloc',
  'free',
  'calloc',
  'realloc',
  'sbrk',
  'dlmalloc',
  'emscripten_builtin_malloc',
  '__rust_alloc',
  '__rdl_alloc',
  'aligned_alloc',
  'posix_memalign',
  'memalign',
  'malloc_usable_size',
  'gc_alloc',
  '__collect',
  'runtime.alloc',
  '',
  '\u0000',
  'é',
];

/** Corrupts the name section: random bytes, bad sizes, bogus/duplicate/allocator names, bad UTF-8. */
const names: Mutator = (rng, input) => {
  const s = splitSections(input);
  if (!s) return null;
  const idx = s.findIndex((x) => x.id === 0 && x.customName === 'name');
  const mode = rng.int(5);
  if (idx < 0 || mode === 0) {
    // A fresh name section, possibly alongside the real one (duplicate name sections).
    const n = rng.range(0, 20);
    const entries: number[][] = [];
    for (let k = 0; k < n; k++) entries.push([...uleb(rng.int(400)), ...name(rng.pick(ALLOC_NAMES))]);
    const sub = rng.chance(0.7) ? vec(entries) : [...uleb(n), ...rng.bytes(rng.int(40))];
    const payload = [...name('name'), rng.pick([0, 1, 1, 2, 7, 9, 200]), ...uleb(sub.length), ...sub];
    s.splice(idx < 0 ? s.length : idx + rng.int(2), 0, {
      id: 0,
      payload: Uint8Array.from(payload),
      offset: 0,
    });
    return { bytes: joinSections(s), desc: `insert name section (${n} entries)` };
  }
  const sec = s[idx]!;
  const p = sec.payload.slice();
  const body = readUleb(p, 0)!;
  const start = body.next + body.value; // after the "name" string
  if (mode === 1) {
    for (let k = 0; k < rng.range(1, 16); k++) {
      const at = start + rng.int(Math.max(1, p.length - start));
      if (at < p.length) p[at] = rng.int(256);
    }
    sec.payload = p;
    return { bytes: joinSections(s), desc: 'name section: random bytes' };
  }
  if (mode === 2) {
    // Rename function entries in place to allocator names (different lengths: re-encode subsection 1).
    const sub = readNameMap(p, start);
    if (!sub) return null;
    for (const e of sub.entries) if (rng.chance(0.15)) e.name = rng.pick(ALLOC_NAMES);
    if (rng.chance(0.3) && sub.entries.length > 1) sub.entries.push({ ...sub.entries[0]! }); // duplicate
    const enc = vec(sub.entries.map((e) => [...uleb(e.index), ...name(e.name)]));
    sec.payload = concat([
      p.subarray(0, sub.subStart),
      [1, ...uleb(enc.length), ...enc],
      p.subarray(sub.subEnd),
    ]);
    return { bytes: joinSections(s), desc: 'name section: function names renamed to allocator names' };
  }
  if (mode === 3) {
    // Invalid UTF-8 in a name.
    const at = start + rng.int(Math.max(1, p.length - start));
    if (at < p.length) p[at] = rng.pick([0xff, 0xc0, 0xed, 0x80]);
    sec.payload = p;
    return { bytes: joinSections(s), desc: 'name section: invalid UTF-8' };
  }
  sec.payload = p.subarray(0, start + rng.int(Math.max(1, p.length - start)));
  return { bytes: joinSections(s), desc: 'name section: truncated' };
};

function readNameMap(
  p: Uint8Array,
  start: number,
): { subStart: number; subEnd: number; entries: { index: number; name: string }[] } | null {
  let pos = start;
  while (pos < p.length) {
    const id = p[pos]!;
    const size = readUleb(p, pos + 1);
    if (!size) return null;
    const end = size.next + size.value;
    if (id === 1) {
      const entries: { index: number; name: string }[] = [];
      const n = readUleb(p, size.next);
      if (!n) return null;
      let q = n.next;
      for (let k = 0; k < n.value && q < end; k++) {
        const index = readUleb(p, q);
        if (!index) return null;
        const len = readUleb(p, index.next);
        if (!len) return null;
        entries.push({
          index: index.value,
          name: Buffer.from(p.subarray(len.next, len.next + len.value)).toString('utf8'),
        });
        q = len.next + len.value;
      }
      return { subStart: pos, subEnd: end, entries };
    }
    pos = end;
  }
  return null;
}

/** Retargets, renames, duplicates or drops exports (the allocator's are the interesting ones). */
const exportsMut: Mutator = (rng, input) => {
  const s = splitSections(input);
  const sec = s?.find((x) => x.id === 7);
  if (!s || !sec) return null;
  const p = sec.payload;
  const n = readUleb(p, 0);
  if (!n) return null;
  const list: { name: string; kind: number; index: number }[] = [];
  let q = n.next;
  for (let k = 0; k < n.value; k++) {
    const len = readUleb(p, q);
    if (!len) return null;
    const nm = Buffer.from(p.subarray(len.next, len.next + len.value)).toString('utf8');
    const kind = p[len.next + len.value]!;
    const idx = readUleb(p, len.next + len.value + 1);
    if (!idx) return null;
    list.push({ name: nm, kind, index: idx.value });
    q = idx.next;
  }
  if (list.length === 0) return null;
  const funcs = list.filter((e) => e.kind === 0);
  const maxFunc = Math.max(0, ...funcs.map((e) => e.index));
  const mode = rng.int(5);
  let desc: string;
  const target = rng.pick(list);
  if (mode === 0 && funcs.length) {
    const f = rng.pick(funcs);
    f.index = rng.int(maxFunc + 1);
    desc = `export ${f.name} -> function ${f.index}`;
  } else if (mode === 1) {
    const newName = rng.pick(ALLOC_NAMES.filter((x) => x !== '' && !list.some((e) => e.name === x)));
    desc = `rename export ${target.name} -> ${newName}`;
    target.name = newName;
  } else if (mode === 2 && funcs.length) {
    const f = rng.pick(funcs);
    const alias = rng.pick(ALLOC_NAMES.filter((x) => x !== '' && !list.some((e) => e.name === x)));
    list.push({ name: alias, kind: 0, index: f.index });
    desc = `alias export ${alias} -> function ${f.index}`;
  } else if (mode === 3) {
    list.splice(list.indexOf(target), 1);
    desc = `drop export ${target.name}`;
  } else {
    const hb = list.find((e) => e.name === '__heap_base') ?? target;
    desc = `rename export ${hb.name} -> __heap_base / swap`;
    const other = list.find((e) => e.kind === 3 && e !== hb);
    if (other) [hb.name, other.name] = [other.name, hb.name];
  }
  const enc = vec(list.map((e) => [...name(e.name), e.kind, ...uleb(e.index)]));
  sec.payload = Uint8Array.from(enc);
  return { bytes: joinSections(s), desc };
};

/** Rewrites the defined memory's limits (initial/max/shared/64-bit flags). */
const memoryMut: Mutator = (rng, input) => {
  const s = splitSections(input);
  const sec = s?.find((x) => x.id === 5);
  if (!s || !sec) return null;
  const flags = rng.pick([0, 1, 1, 3, 4, 5, 0x08, 0x10]);
  const initial = rng.pick([0, 1, 2, 256, 65535, 65536, 65537, 2 ** 31, 0xffffffff]);
  const max = rng.pick([initial, initial + 1, 0, 65536, 1]);
  const limits = [flags, ...uleb(initial), ...(flags & 1 ? uleb(max) : [])];
  sec.payload = Uint8Array.from(vec([limits, ...(rng.chance(0.1) ? [limits] : [])]));
  return {
    bytes: joinSections(s),
    desc: `memory limits flags=${flags} initial=${initial} max=${max}`,
    changesCode: true,
  };
};

const CUSTOM_NAMES = [
  'target_features',
  'producers',
  '.debug_info',
  '.debug_line',
  'sourceMappingURL',
  'linking',
  'x',
];

/** Inserts a random custom section (also in the middle of the known sections, which is legal). */
const custom: Mutator = (rng, input) =>
  withSections(input, (s) => {
    const nm = rng.pick(CUSTOM_NAMES);
    const body =
      nm === 'target_features'
        ? [
            ...uleb(2),
            0x2b,
            ...name(rng.pick(['bulk-memory', 'memory64', 'atomics', 'gc'])),
            0x2d,
            ...name('simd128'),
          ]
        : [...rng.bytes(rng.pick([0, 1, 100, 5000]))];
    const at = rng.int(s.length + 1);
    s.splice(at, 0, { id: 0, payload: Uint8Array.from([...name(nm), ...body]), offset: 0 });
    return `insert custom section ${nm} at ${at}`;
  });

const MUTATORS: [string, Mutator, number][] = [
  ['flip', flip, 20],
  ['truncate', truncate, 8],
  ['shuffle', shuffle, 6],
  ['duplicate', duplicate, 6],
  ['delete', remove, 8],
  ['leb', leb, 12],
  ['names', names, 14],
  ['exports', exportsMut, 12],
  ['memory', memoryMut, 6],
  ['custom', custom, 8],
];
const TOTAL = MUTATORS.reduce((a, m) => a + m[2], 0);

function pickMutator(rng: Rng): [string, Mutator] {
  let r = rng.int(TOTAL);
  for (const [n, m, w] of MUTATORS) {
    if (r < w) return [n, m];
    r -= w;
  }
  return ['flip', flip];
}

/** Applies 1–3 random mutators. Always returns something (falls back to a byte flip). */
export function mutate(rng: Rng, input: Uint8Array): Mutation {
  const rounds = rng.pick([1, 1, 1, 2, 3]);
  let bytes = input;
  let changesCode = false;
  const descs: string[] = [];
  for (let k = 0; k < rounds; k++) {
    const [n, m] = pickMutator(rng);
    const r = m(rng, bytes) ?? flip(rng, bytes)!;
    descs.push(`${n}: ${r.desc}`);
    changesCode ||= r.changesCode === true;
    bytes = r.bytes;
  }
  return { bytes, desc: descs.join('; '), changesCode };
}
