/*
 * Native micro-benchmark: malloc/free pairs per second through wasm2c.
 *
 *   orig   bench plugin (bench_plugin.c, emcc -O2 STANDALONE_WASM) on its own dlmalloc, in wasm
 *   host   the same module after `transform`: malloc/free are imports served by hostalloc
 *   src    (optional, -DBENCH_HAVE_SRC) plugin_hostabi.c, written against the host ABI
 *   direct hostalloc_malloc/free called from C on a plain buffer (no wasm, no import call)
 *   libc   the C library's malloc/free (reference)
 *
 * All wasm modules run the same kernel, bench_pairs(n, seed) from bench_pairs.h, and are compiled
 * by wasm2c with the same compiler flags. Prints one JSON object on stdout. Built and run by
 * bench.sh; usage: bench [pairs-per-call (default 1000000)] [min-seconds-per-sample (default 0.3)]
 */
#include "orig.h"
#include "host.h"
#ifdef BENCH_HAVE_SRC
#include "src.h"
#endif
#include "glue_orig.h"
#include "glue_host.h"
#ifdef BENCH_HAVE_SRC
#include "glue_src.h"
#endif
#include <time.h>

#include "w2c_host.h"

static struct Z_env_instance_t g_env_O, g_env_H, g_env_S;
static struct Z_wasi_snapshot_preview1_instance_t g_wasi_O = {NULL, -1}, g_wasi_H = {NULL, -1},
                                                  g_wasi_S = {NULL, -1};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef u32 (*kernel_fn)(void *inst, u32 n, u32 seed);

typedef struct result {
  const char *name;
  double pairs_per_sec;
  u32 checksum;
} result;

/* best of 5 samples, each at least min_s seconds */
static result measure(const char *name, kernel_fn fn, void *inst, u32 n, double min_s) {
  result r = {name, 0, 0};
  r.checksum = fn(inst, n, 1); /* warm-up; also grows the heap */
  for (int sample = 0; sample < 5; sample++) {
    double t0 = now(), t;
    u64 pairs = 0;
    do {
      u32 c = fn(inst, n, 1);
      if (c != r.checksum) r.checksum = 0; /* non-deterministic: flag */
      pairs += n;
      t = now() - t0;
    } while (t < min_s);
    double pps = (double)pairs / t;
    if (pps > r.pairs_per_sec) r.pairs_per_sec = pps;
  }
  return r;
}

static u32 k_orig(void *inst, u32 n, u32 seed) { return Z_origZ_bench_pairs((Z_orig_instance_t *)inst, n, seed); }
static u32 k_host(void *inst, u32 n, u32 seed) { return Z_hostZ_bench_pairs((Z_host_instance_t *)inst, n, seed); }
#ifdef BENCH_HAVE_SRC
static u32 k_src(void *inst, u32 n, u32 seed) { return Z_srcZ_bench_pairs((Z_src_instance_t *)inst, n, seed); }
#endif

/* The bench_pairs kernel in C over an allocator interface, for the non-wasm baselines. */
typedef struct c_alloc {
  u64 (*malloc_fn)(void *ctx, u64 size);
  void (*free_fn)(void *ctx, u64 p);
  u8 *(*base)(void *ctx);
  void *ctx;
} c_alloc;

static u32 c_kernel(c_alloc *a, u32 n, u32 seed) {
  enum { RING = 64 };
  u64 ring[RING];
  u32 s = seed * 2654435761u | 1u, h = 2166136261u;
  for (int i = 0; i < RING; i++) ring[i] = 0;
  for (u32 i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    u64 *slot = &ring[i & (RING - 1)];
    if (*slot) {
      h = (h ^ a->base(a->ctx)[*slot]) * 16777619u;
      a->free_fn(a->ctx, *slot);
    }
    u64 p = a->malloc_fn(a->ctx, 16u + (s >> 8) % 1009u);
    if (p) a->base(a->ctx)[p] = (u8)s;
    *slot = p;
  }
  for (int i = 0; i < RING; i++)
    if (ring[i]) {
      h = (h ^ a->base(a->ctx)[ring[i]]) * 16777619u;
      a->free_fn(a->ctx, ring[i]);
    }
  return h;
}
static u32 k_c(void *inst, u32 n, u32 seed) { return c_kernel((c_alloc *)inst, n, seed); }

/* direct hostalloc over a static buffer */
typedef struct plain_mem {
  u8 *buf;
  u64 size;
} plain_mem;
static u8 *pm_base(void *ctx) { return ((plain_mem *)ctx)->buf; }
static u64 pm_size(void *ctx) { return ((plain_mem *)ctx)->size; }
static u64 d_malloc(void *ctx, u64 n) { return hostalloc_malloc((hostalloc_t *)ctx, n); }
static void d_free(void *ctx, u64 p) { hostalloc_free((hostalloc_t *)ctx, p); }
static plain_mem g_pm;
static u8 *d_base(void *ctx) {
  (void)ctx;
  return g_pm.buf;
}
/* libc: offsets relative to address 0 */
static u64 l_malloc(void *ctx, u64 n) {
  (void)ctx;
  return (u64)(uintptr_t)malloc((size_t)n);
}
static void l_free(void *ctx, u64 p) {
  (void)ctx;
  free((void *)(uintptr_t)p);
}
static u8 *l_base(void *ctx) {
  (void)ctx;
  return (u8 *)0;
}

int main(int argc, char **argv) {
  u32 n = argc > 1 ? (u32)strtoul(argv[1], NULL, 10) : 1000000u;
  double min_s = argc > 2 ? strtod(argv[2], NULL) : 0.3;
  wasm_rt_init();

  static Z_orig_instance_t orig;
  Z_orig_init_module();
  O_INSTANTIATE(&orig);
  g_wasi_O.mem = Z_origZ_memory(&orig);
#ifdef HAVE_O__initialize
  Z_origZ__initialize(&orig);
#endif

  static Z_host_instance_t host;
  Z_host_init_module();
  H_INSTANTIATE(&host);
  g_wasi_H.mem = Z_hostZ_memory(&host);
  if (w2c_env_attach(&g_env_H, Z_hostZ_memory(&host), *Z_hostZ___heap_base(&host)) != 0) {
    fprintf(stderr, "bench: hostalloc_create failed\n");
    return 1;
  }
#ifdef HAVE_H__initialize
  Z_hostZ__initialize(&host);
#endif

#ifdef BENCH_HAVE_SRC
  static Z_src_instance_t src;
  Z_src_init_module();
  S_INSTANTIATE(&src);
  g_wasi_S.mem = Z_srcZ_memory(&src);
  if (w2c_env_attach(&g_env_S, Z_srcZ_memory(&src), *Z_srcZ___heap_base(&src)) != 0) return 1;
#endif

  g_pm.size = 64u << 20;
  g_pm.buf = (u8 *)calloc(1, (size_t)g_pm.size);
  hostalloc_memory_ops pops = {&g_pm, pm_base, pm_size, NULL, 0};
  hostalloc_t *direct = hostalloc_create(&pops, 1024, NULL, NULL);
  c_alloc da = {d_malloc, d_free, d_base, direct};
  c_alloc la = {l_malloc, l_free, l_base, NULL};

  result rs[5];
  int k = 0;
  rs[k++] = measure("wasm2c: original module, its own dlmalloc", k_orig, &orig, n, min_s);
  rs[k++] = measure("wasm2c: transformed module, host_malloc/host_free over hostalloc", k_host, &host, n, min_s);
#ifdef BENCH_HAVE_SRC
  rs[k++] = measure("wasm2c: host-ABI plugin from source over hostalloc", k_src, &src, n, min_s);
#endif
  rs[k++] = measure("native: hostalloc_malloc/free called directly", k_c, &da, n, min_s);
  rs[k++] = measure("native: libc malloc/free", k_c, &la, n, min_s);

  hostalloc_stats_t hs;
  hostalloc_stats(g_env_H.ha, &hs);
  printf("{\"benchmark\":\"malloc/free pairs\",\"pairs_per_call\":%u,\"sizes\":\"16..1024\",\"ring\":64,"
         "\"host_calls\":%llu,\"results\":[",
         n, (unsigned long long)g_env_H.calls);
  for (int i = 0; i < k; i++)
    printf("%s{\"name\":\"%s\",\"pairs_per_sec\":%.0f,\"ns_per_pair\":%.2f,\"checksum\":%u}", i ? "," : "",
           rs[i].name, rs[i].pairs_per_sec, 1e9 / rs[i].pairs_per_sec, rs[i].checksum);
  printf("],\"checksums_equal\":%s,\"host_peak_in_use\":%llu}\n",
         (rs[0].checksum == rs[1].checksum && rs[0].checksum != 0) ? "true" : "false",
         (unsigned long long)hs.peak_in_use_bytes);
  hostalloc_destroy(direct);
  free(g_pm.buf);
  hostalloc_destroy(g_env_H.ha);
  if (g_env_S.ha) hostalloc_destroy(g_env_S.ha);
  return 0;
}
