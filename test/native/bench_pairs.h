/*
 * bench_pairs(n, seed): the micro-benchmark kernel shared by the benchmark plugins
 * (plugin_hostabi.c, bench_plugin.c, bench/plugins/alloc-bench.c). n malloc/free pairs, sizes 16..1024 bytes, a ring of 64
 * live blocks (each malloc frees the oldest), one byte written per block. Returns a checksum of
 * contents only (allocator independent).
 */
#ifndef BENCH_PAIRS_H
#define BENCH_PAIRS_H
#include <stddef.h>
#include <stdint.h>

#ifndef BENCH_EXPORT
#define BENCH_EXPORT(name) __attribute__((used, export_name(#name)))
#endif

BENCH_EXPORT(bench_pairs) int32_t bench_pairs(int32_t n, int32_t seed) {
  enum { RING = 64 };
  uint8_t *ring[RING];
  uint32_t s = (uint32_t)seed * 2654435761u | 1u, h = 2166136261u;
  for (int i = 0; i < RING; i++) ring[i] = 0;
  for (int32_t i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    uint8_t **slot = &ring[i & (RING - 1)];
    if (*slot) {
      h = (h ^ **slot) * 16777619u;
      free(*slot);
    }
    uint8_t *p = (uint8_t *)malloc(16u + (s >> 8) % 1009u);
    if (p) *p = (uint8_t)s;
    *slot = p;
  }
  for (int i = 0; i < RING; i++)
    if (ring[i]) {
      h = (h ^ *ring[i]) * 16777619u;
      free(ring[i]);
    }
  return (int32_t)h;
}
#endif
