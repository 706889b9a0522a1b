/*
 * A plugin written directly against the wasm-hostalloc ABI (a "compliant module built from
 * source"): no allocator of its own, it imports env.host_* and the shared fixture workload
 * (fixtures/src/workload.h) runs on top. run.sh builds it with
 *
 *   clang-16 --target=wasm32-unknown-unknown -nostdlib -O2 -fno-builtin -DWL_FREESTANDING \
 *     -Ifixtures/src -c plugin_hostabi.c
 *   clang-16 --target=wasm32-unknown-unknown -nostdlib -Wl,--no-entry -Wl,--export=__heap_base \
 *     -Wl,--export=__data_end -Wl,--export-dynamic plugin_hostabi.o
 *
 * and then adds the immutable global export `__hostalloc_abi` = 1 (C cannot define a wasm global
 * with an initial value) by a wasm2wat / wat2wasm round trip.
 *
 * It also exports bench_pairs(n, seed): n malloc/free pairs of 16..1024 bytes with up to 64 live
 * blocks, used by bench.c.
 */
#include "workload.h"

#define HOST_IMPORT(name) __attribute__((import_module("env"), import_name(#name)))

HOST_IMPORT(host_malloc) void *host_malloc(size_t size);
HOST_IMPORT(host_free) void host_free(void *ptr);
HOST_IMPORT(host_calloc) void *host_calloc(size_t n, size_t size);
HOST_IMPORT(host_realloc) void *host_realloc(void *ptr, size_t size);
HOST_IMPORT(host_aligned_alloc) void *host_aligned_alloc(size_t align, size_t size);
HOST_IMPORT(host_usable_size) size_t host_usable_size(void *ptr);

void *malloc(size_t n) { return host_malloc(n); }
void free(void *p) { host_free(p); }
void *calloc(size_t n, size_t m) { return host_calloc(n, m); }
void *realloc(void *p, size_t n) { return host_realloc(p, n); }
void *aligned_alloc(size_t align, size_t n) { return host_aligned_alloc(align, n); }
void *memalign(size_t align, size_t n) { return host_aligned_alloc(align, n); }
int posix_memalign(void **out, size_t align, size_t n) {
  /* WASI errno numbering, as wasi-libc and Emscripten use: EINVAL 28, ENOMEM 48. */
  if (align < sizeof(void *) || (align & (align - 1))) return 28;
  void *p = host_aligned_alloc(align, n);
  if (!p) return 48;
  *out = p;
  return 0;
}

void *memcpy(void *d, const void *s, size_t n) {
  uint8_t *dp = (uint8_t *)d;
  const uint8_t *sp = (const uint8_t *)s;
  while (n--) *dp++ = *sp++;
  return d;
}
void *memset(void *d, int c, size_t n) {
  uint8_t *dp = (uint8_t *)d;
  while (n--) *dp++ = (uint8_t)c;
  return d;
}
int memcmp(const void *a, const void *b, size_t n) {
  const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}
size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}
char *strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = (char *)malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

/* usable size must be at least the requested size; folded into a checksum */
WL_EXPORT(wl_usable) int32_t wl_usable(int32_t n) {
  uint8_t *p = (uint8_t *)malloc((size_t)n);
  if (!p) return -1;
  int32_t u = (int32_t)host_usable_size(p);
  free(p);
  return u >= n ? 1 : 0;
}

#include "bench_pairs.h"
