/*
 * Allocation workloads for `npm run bench` (bench/run.ts), built by bench/plugins/build.sh with
 * emcc against dlmalloc and emmalloc; the dlmalloc build is also transformed and run on the host
 * allocator. Every workload returns a checksum of block contents only (allocator independent), so
 * the original and the transformed module must agree.
 *
 * The plugin counts the bytes it has requested and not yet freed (`live`) and the highest value
 * of that count (`bench_peak_live()`): the payload the allocator had to hold at its peak. The
 * linear-memory footprint of the heap minus that payload is the allocator's in-band cost
 * (headers, free-list metadata, alignment and fragmentation).
 *
 * bench_pairs(n, seed) is the same kernel as test/native/bench_pairs.h (n malloc/free pairs,
 * sizes 16..1024, a ring of 64 live blocks), so V8 and wasm2c figures are comparable.
 */
#include <stdint.h>
#include <stdlib.h>

#define EXPORT __attribute__((used, visibility("default")))

static uint32_t live, peak_live;
static uint32_t rng = 1;

static uint32_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

static void *take(uint32_t size) {
  uint8_t *p = (uint8_t *)malloc(size);
  if (!p) return 0;
  live += size;
  if (live > peak_live) peak_live = live;
  p[0] = (uint8_t)size;
  p[size - 1] = (uint8_t)(size >> 3);
  return p;
}

static uint32_t give(void *p, uint32_t size, uint32_t h) {
  if (!p) return h;
  h = (h ^ ((uint8_t *)p)[0]) * 16777619u;
  h = (h ^ ((uint8_t *)p)[size - 1]) * 16777619u;
  live -= size;
  free(p);
  return h;
}

EXPORT uint32_t bench_peak_live(void) { return peak_live; }
EXPORT void bench_reset(uint32_t seed) {
  peak_live = live;
  rng = seed * 2654435761u | 1u;
}

#define MAXN 65536
static void *ptrs[MAXN];
static uint32_t sizes[MAXN];

/* n small blocks (8..64 bytes, mostly 8..32), all live at once, then freed in random order. */
EXPORT uint32_t bench_small(uint32_t n) {
  uint32_t h = 2166136261u;
  if (n > MAXN) n = MAXN;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t r = next();
    uint32_t s = (r & 3) ? 8 + (r >> 8) % 25 : 33 + (r >> 8) % 32;
    sizes[i] = s;
    ptrs[i] = take(s);
  }
  for (uint32_t i = n; i > 1; i--) { /* shuffle, then free */
    uint32_t j = next() % i;
    void *p = ptrs[i - 1];
    uint32_t s = sizes[i - 1];
    ptrs[i - 1] = ptrs[j];
    sizes[i - 1] = sizes[j];
    ptrs[j] = p;
    sizes[j] = s;
  }
  for (uint32_t i = 0; i < n; i++) h = give(ptrs[i], sizes[i], h);
  return h;
}

/* n steps over 4096 slots: free the slot's block if any, allocate a new one: 70% 8..256 bytes,
 * 25% 256..4096, 5% 4 KiB..64 KiB. Ends by freeing everything. */
EXPORT uint32_t bench_mixed(uint32_t n) {
  enum { SLOTS = 4096 };
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < SLOTS; i++) ptrs[i] = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t r = next(), k = next() % SLOTS, c = r % 100, s;
    if (c < 70) s = 8 + (r >> 8) % 249;
    else if (c < 95) s = 256 + (r >> 8) % 3841;
    else s = 4096 + (r >> 8) % 61441;
    h = give(ptrs[k], sizes[k], h);
    sizes[k] = s;
    ptrs[k] = take(s);
  }
  for (uint32_t i = 0; i < SLOTS; i++) h = give(ptrs[i], sizes[i], h), ptrs[i] = 0;
  return h;
}

/* n large blocks (64 KiB..1 MiB) through a ring of 16 live ones. */
EXPORT uint32_t bench_large(uint32_t n) {
  enum { RING = 16 };
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < RING; i++) ptrs[i] = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t k = i % RING, s = 65536 + next() % (1048576 - 65536 + 1);
    h = give(ptrs[k], sizes[k], h);
    sizes[k] = s;
    ptrs[k] = take(s);
  }
  for (uint32_t i = 0; i < RING; i++) h = give(ptrs[i], sizes[i], h), ptrs[i] = 0;
  return h;
}

/* 512 growing buffers: n steps, each appends 1..512 bytes to a random buffer with realloc
 * (a vector/string builder); a buffer past 64 KiB is freed and starts again. */
EXPORT uint32_t bench_realloc(uint32_t n) {
  enum { BUFS = 512 };
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < BUFS; i++) ptrs[i] = 0, sizes[i] = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t r = next(), k = r % BUFS, add = 1 + (r >> 9) % 512;
    uint32_t old = sizes[k], s = old + add;
    if (s > 65536) {
      h = give(ptrs[k], old, h);
      ptrs[k] = 0;
      sizes[k] = 0;
      continue;
    }
    uint8_t *p = (uint8_t *)realloc(ptrs[k], s);
    if (!p) continue;
    if (old) h = (h ^ p[old - 1]) * 16777619u;
    else p[0] = (uint8_t)s; /* give() reads p[0]: never leave it uninitialised */
    p[s - 1] = (uint8_t)r;
    live += add;
    if (live > peak_live) peak_live = live;
    ptrs[k] = p;
    sizes[k] = s;
  }
  for (uint32_t i = 0; i < BUFS; i++) h = give(ptrs[i], sizes[i], h), ptrs[i] = 0, sizes[i] = 0;
  return h;
}

/* bench_pairs(n, seed): the kernel the native benchmark (test/native/bench.sh) runs too. */
#define BENCH_EXPORT(name) EXPORT
#include "../../test/native/bench_pairs.h"
