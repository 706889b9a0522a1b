/*
 * A C plugin built directly against the wasm-hostalloc ABI (docs/abi.md): no allocator inside, the
 * host's allocator behind malloc/free. Recipe of docs/faq.md and docs/toolchains.md.
 *
 * clang + wasi-libc (clang-16, clang-19):
 *   clang-16 --target=wasm32-wasi -O2 -c c-host-alloc.c -o c-host-alloc.o
 *   clang-16 --target=wasm32-wasi -mexec-model=reactor -Wl,--strip-debug \
 *     -Wl,--export=__heap_base -Wl,--export=__data_end c-host-alloc.o -o c-host-alloc.raw.wasm
 * emcc (3.1.6 and later); host-imports.js tells emcc the six host_* functions are imports:
 *   emcc -O2 --no-entry -sSTANDALONE_WASM -sMALLOC=none --js-library host-imports.js \
 *     -Wl,--export=__heap_base -Wl,--export=__data_end c-host-alloc.c -o c-host-alloc.raw.wasm
 * then, for either:
 *   npx wasm-hostalloc transform c-host-alloc.raw.wasm -o c-host-alloc.wasm   # status: adopted
 *
 * Defining malloc, free, calloc, realloc, aligned_alloc, posix_memalign, memalign and
 * malloc_usable_size here keeps the libc's allocator out of the link: libc's own calls (strdup,
 * qsort's buffers, stdio) reach the host too. Link clang without -O (see docs/toolchains.md).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
size_t malloc_usable_size(void *p) { return p ? host_usable_size(p) : 0; }
int posix_memalign(void **out, size_t align, size_t n) {
  if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
  void *p = host_aligned_alloc(align, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

#ifdef __EMSCRIPTEN__
/* Emscripten's libc allocates through these even under -sMALLOC=none (getenv's environment,
 * mmap): without them such a program fails to link, or with -sERROR_ON_UNDEFINED_SYMBOLS=0
 * imports env.emscripten_builtin_malloc/_memalign, which no host provides. */
void *emscripten_builtin_malloc(size_t n) { return host_malloc(n); }
void emscripten_builtin_free(void *p) { host_free(p); }
void *emscripten_builtin_memalign(size_t align, size_t n) { return host_aligned_alloc(align, n); }
#endif

/* The plugin's own entry points. */

/* Returns a new NUL-terminated string "<prefix><name>" that the host must free. */
__attribute__((export_name("greet"))) char *greet(const char *name) {
  static const char prefix[] = "hello, ";
  size_t n = strlen(name);
  char *out = malloc(sizeof prefix + n);
  if (!out) return NULL;
  memcpy(out, prefix, sizeof prefix - 1);
  memcpy(out + sizeof prefix - 1, name, n + 1);
  return out;
}

/* Takes ownership of a host-allocated buffer: sums its bytes, then frees it. */
__attribute__((export_name("consume"))) uint32_t consume(uint8_t *buf, size_t len) {
  uint32_t sum = 0;
  char *copy = strdup("scratch"); /* libc's strdup calls our malloc, i.e. the host */
  for (size_t i = 0; i < len; i++) sum = sum * 31 + buf[i];
  free(copy);
  free(buf);
  return sum;
}
