// Generates the multi-MB benchmark module: a C file of many functions (each allocating,
// filling, hashing and freeing buffers), built by emcc -O0 with names and dlmalloc, so it is
// transformable without --force. Output cached in bench/.cache/ (gitignored: several MB).
//   node bench/lib/gen-big.mjs <out.wasm> [functions]
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const [out, nArg] = process.argv.slice(2);
const N = Number(nArg ?? 3000);
const lines = ['#include <stdint.h>', '#include <stdlib.h>', '#include <string.h>', ''];
for (let i = 0; i < N; i++) {
  const a = (i * 2654435761) >>> 0;
  lines.push(`static uint32_t f${i}(uint32_t x) {
  uint32_t n = 16 + (x + ${i}) % 97, h = ${a}u;
  uint8_t *p = (uint8_t *)malloc(n);
  if (!p) return 0;
  for (uint32_t k = 0; k < n; k++) p[k] = (uint8_t)(x * ${(i % 251) + 3}u + k);
  for (uint32_t k = 0; k < n; k++) h = (h ^ p[k]) * 16777619u + ${i % 1009}u;
  if (h % ${(i % 13) + 2}u == 0) h += x << ${i % 7}; else h ^= x >> ${(i % 5) + 1};
  switch (h & 3) { case 0: h += ${i}u; break; case 1: h ^= ${a >>> 3}u; break; case 2: h *= 33u; break; default: h -= x; }
  free(p);
  return h;
}`);
}
lines.push('typedef uint32_t (*fn_t)(uint32_t);');
lines.push(`static const fn_t table[${N}] = {${Array.from({ length: N }, (_, i) => `f${i}`).join(',')}};`);
lines.push(`__attribute__((used)) uint32_t run_all(uint32_t x) {
  uint32_t h = 0;
  for (uint32_t i = 0; i < ${N}u; i++) h ^= table[i](x + i);
  return h;
}`);
const src = out.replace(/\.wasm$/, '.c');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(src, `${lines.join('\n')}\n`);
execFileSync(
  'emcc',
  [
    '-O0',
    '--profiling-funcs',
    '--no-entry',
    '-sSTANDALONE_WASM',
    '-sEXPORTED_FUNCTIONS=_malloc,_free,_run_all',
    src,
    '-o',
    out,
  ],
  {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, NODE_PATH: '/usr/share/nodejs' },
    cwd: join(dirname(out)),
  },
);
