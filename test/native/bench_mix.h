/*
 * bench_mix(n, seed, mix) and bench_fill(n, mix): the size mixes of the native benchmark
 * (bench.c), compiled into bench_plugin.c. Each returns a checksum of block contents only
 * (allocator independent), so the original module and the transformed one must agree.
 *
 *   mix 0  small:   8..128 bytes, ring of 256 live blocks
 *   mix 1  mixed:   16..1024 bytes, ring of 64 (the sizes of bench_pairs)
 *   mix 2  large:   4 KiB..64 KiB, ring of 16
 *   mix 3  realloc: ring of 64 blocks of 16..4096 bytes; each step reallocs one block to a new
 *                   size, every 16th step frees it instead
 *   mix 4  (bench_fill only) tiny: 8..64 bytes, mostly 8..32, the sizes of bench_small in
 *                   bench/plugins/alloc-bench.c (the README's footprint workload)
 * One step = one malloc + one free (mix 3: one realloc, or one free + one malloc).
 * bench_fill(n, mix, seed) allocates n blocks of the mix's sizes and keeps them live (footprint). The
 * plugin is built with a 64 KiB stack, a 256 KiB initial memory and memory growth, so that the
 * memory size follows each allocator's heap. (Three parameters: with two, the transform's call-graph
 * analysis took this exported function for memalign in the stripped emcc build.)
 */
#ifndef BENCH_MIX_H
#define BENCH_MIX_H
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#ifndef BENCH_EXPORT
#define BENCH_EXPORT(name) __attribute__((used, export_name(#name)))
#endif

static uint32_t bench_mix_size(uint32_t s, int32_t mix) {
  switch (mix) {
    case 0: return 8u + (s >> 8) % 121u;
    case 2: return 4096u + (s >> 8) % 61441u;
    case 3: return 16u + (s >> 8) % 4081u;
    case 4: return (s & 3u) ? 8u + (s >> 8) % 25u : 33u + (s >> 8) % 32u; /* bench/plugins' small */
    default: return 16u + (s >> 8) % 1009u;
  }
}

BENCH_EXPORT(bench_mix) int32_t bench_mix(int32_t n, int32_t seed, int32_t mix) {
  enum { RING = 256 };
  uint8_t *ring[RING];
  uint32_t ring_mask = mix == 0 ? 255u : mix == 2 ? 15u : 63u;
  uint32_t s = (uint32_t)seed * 2654435761u | 1u, h = 2166136261u;
  for (int i = 0; i < RING; i++) ring[i] = 0;
  for (int32_t i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    uint8_t **slot = &ring[(uint32_t)i & ring_mask];
    uint32_t size = bench_mix_size(s, mix);
    if (mix == 3 && *slot && (s & 15u) != 0) {
      h = (h ^ **slot) * 16777619u;
      uint8_t *p = (uint8_t *)realloc(*slot, size);
      if (p) {
        p[size - 1] = (uint8_t)s;
        *slot = p;
      }
      continue;
    }
    if (*slot) {
      h = (h ^ **slot) * 16777619u;
      free(*slot);
    }
    uint8_t *p = (uint8_t *)malloc(size);
    if (p) {
      p[0] = (uint8_t)s;
      p[size - 1] = (uint8_t)s;
    }
    *slot = p;
  }
  for (int i = 0; i < RING; i++)
    if (ring[i]) {
      h = (h ^ *ring[i]) * 16777619u;
      free(ring[i]);
    }
  return (int32_t)h;
}

/* The filled blocks form a list (first word: the previous block, second: its size) walked at
 * the end, so that the compiler cannot elide the allocations. (No global: the transform's static
 * state analysis took one next to dlmalloc's state for allocator state, HA020.) */
BENCH_EXPORT(bench_fill) int32_t bench_fill(int32_t n, int32_t mix, int32_t seed) {
  uint32_t s = (uint32_t)seed, h = 2166136261u;
  uint8_t *head = 0;
  for (int32_t i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    uint32_t size = bench_mix_size(s, mix);
    uint8_t *p = (uint8_t *)malloc(size);
    if (!p) return -1;
    ((uint8_t **)p)[0] = head;
    ((uint32_t *)p)[1] = size;
    if (size > 8) p[size - 1] = (uint8_t)s; /* after the 8 header bytes */
    head = p;
  }
  for (uint8_t *p = head; p; p = ((uint8_t **)p)[0]) {
    uint32_t size = ((uint32_t *)p)[1];
    h = (h ^ size ^ (size > 8 ? p[size - 1] : 0u)) * 16777619u;
  }
  return (int32_t)h;
}
#endif
