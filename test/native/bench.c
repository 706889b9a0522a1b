/*
 * Native micro-benchmark: malloc/free pairs per second through wasm2c.
 *
 *   orig   bench plugin (bench_plugin.c, emcc -O2 STANDALONE_WASM) on its own dlmalloc, in wasm
 *   host   the same module after `transform`: malloc/free/realloc are imports served by hostalloc
 *          (granule 8, as Emscripten's dlmalloc aligns to 8)
 *   src    (optional, -DBENCH_HAVE_SRC) plugin_hostabi.c, written against the host ABI
 *   direct hostalloc_malloc/free called from C on a plain buffer (no wasm, no import call)
 *   libc   the C library's malloc/free (reference)
 *
 * All wasm modules run the same kernels, bench_pairs(n, seed) from bench_pairs.h and
 * bench_mix(n, seed, mix) / bench_fill(n, mix, seed) from bench_mix.h, compiled by wasm2c with the
 * same compiler flags. Prints one JSON object on stdout. Built and run by bench.sh.
 *
 * usage: bench [pairs-per-call (default 1000000)] [min-seconds-per-sample (default 0.3)]
 *        bench cg orig|host MIX N   run bench_mix(N, 1, MIX) once on one module (for callgrind)
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
#include "wasm-rt-impl.h"

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

#define GRANULE 8u
static const char *const MIX_NAMES[] = {"small", "mixed", "large", "realloc", "tiny"};
enum { NMIX = 4, NFILL = 5 }; /* timed mixes; footprint fills (tiny: fill only) */
/* blocks kept live by bench_fill per mix (footprint) */
static const u32 FILL_BLOCKS[NFILL] = {60000, 20000, 500, 5000, 60000};

/* Same sizes as bench_mix_size in bench_mix.h: the payload of bench_fill. */
static u64 fill_payload(u32 n, int mix) {
  u32 s = 2463534242u;
  u64 total = 0;
  for (u32 i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    total += mix == 0   ? 8u + (s >> 8) % 121u
             : mix == 2 ? 4096u + (s >> 8) % 61441u
             : mix == 3 ? 16u + (s >> 8) % 4081u
             : mix == 4 ? ((s & 3u) ? 8u + (s >> 8) % 25u : 33u + (s >> 8) % 32u)
                        : 16u + (s >> 8) % 1009u;
  }
  return total;
}

static int g_mix;
static u32 k_orig_mix(void *inst, u32 n, u32 seed) {
  return Z_origZ_bench_mix((Z_orig_instance_t *)inst, n, seed, (u32)g_mix);
}
static u32 k_host_mix(void *inst, u32 n, u32 seed) {
  return Z_hostZ_bench_mix((Z_host_instance_t *)inst, n, seed, (u32)g_mix);
}

static Z_orig_instance_t orig;
static Z_host_instance_t host;

static void new_orig(void) {
  O_INSTANTIATE(&orig);
  g_wasi_O.mem = Z_origZ_memory(&orig);
#ifdef HAVE_O__initialize
  Z_origZ__initialize(&orig);
#endif
}

static int new_host(void) {
  H_INSTANTIATE(&host);
  g_wasi_H.mem = Z_hostZ_memory(&host);
  int rc = w2c_env_attach2(&g_env_H, Z_hostZ_memory(&host), *Z_hostZ___heap_base(&host), GRANULE);
  if (rc != HOSTALLOC_OK) {
    fprintf(stderr, "bench: hostalloc_create2 failed: %s\n", hostalloc_strerror(rc));
    return -1;
  }
#ifdef HAVE_H__initialize
  Z_hostZ__initialize(&host);
#endif
  return 0;
}

int main(int argc, char **argv) {
  wasm_rt_init();
  Z_orig_init_module();
  Z_host_init_module();
  if (argc > 4 && strcmp(argv[1], "cg") == 0) { /* one kernel run, for callgrind */
    int mix = atoi(argv[3]);
    u32 cn = (u32)strtoul(argv[4], NULL, 10);
    u32 c;
    if (strcmp(argv[2], "orig") == 0) {
      new_orig();
      c = Z_origZ_bench_mix(&orig, cn, 1, (u32)mix);
    } else {
      if (new_host() != 0) return 1;
      c = Z_hostZ_bench_mix(&host, cn, 1, (u32)mix);
    }
    printf("%u\n", c);
    return 0;
  }
  u32 n = argc > 1 ? (u32)strtoul(argv[1], NULL, 10) : 1000000u;
  double min_s = argc > 2 ? strtod(argv[2], NULL) : 0.3;

  new_orig();
  if (new_host() != 0) return 1;

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
         "\"granule\":%u,\"host_calls\":%llu,\"results\":[",
         n, GRANULE, (unsigned long long)g_env_H.calls);
  for (int i = 0; i < k; i++)
    printf("%s{\"name\":\"%s\",\"pairs_per_sec\":%.0f,\"ns_per_pair\":%.2f,\"checksum\":%u}", i ? "," : "",
           rs[i].name, rs[i].pairs_per_sec, 1e9 / rs[i].pairs_per_sec, rs[i].checksum);
  printf("],\"checksums_equal\":%s,\"host_peak_in_use\":%llu",
         (rs[0].checksum == rs[1].checksum && rs[0].checksum != 0) ? "true" : "false",
         (unsigned long long)hs.peak_in_use_bytes);

  /* size mixes: orig vs host, same kernel */
  printf(",\"mixes\":[");
  for (int mix = 0; mix < NMIX; mix++) {
    g_mix = mix;
    u32 mn = mix == 2 ? n / 8 : n;
    result ro = measure("orig", k_orig_mix, &orig, mn, min_s);
    result rh = measure("host", k_host_mix, &host, mn, min_s);
    printf("%s{\"mix\":\"%s\",\"pairs_per_call\":%u,\"orig_pairs_per_sec\":%.0f,\"host_pairs_per_sec\":%.0f,"
           "\"host_vs_orig\":%.3f,\"checksums_equal\":%s}",
           mix ? "," : "", MIX_NAMES[mix], mn, ro.pairs_per_sec, rh.pairs_per_sec, rh.pairs_per_sec / ro.pairs_per_sec,
           (ro.checksum == rh.checksum && ro.checksum != 0) ? "true" : "false");
  }
  printf("]");

  /* footprint: fresh instances, bench_fill keeps the blocks live */
  printf(",\"footprint\":[");
  for (int mix = 0; mix < NFILL; mix++) {
    Z_orig_free(&orig);
    new_orig();
    hostalloc_destroy(g_env_H.ha);
    Z_host_free(&host);
    if (new_host() != 0) return 1;
    u32 co = 0, ch = 0;
    wasm_rt_trap_t trap = (wasm_rt_trap_t)wasm_rt_impl_try();
    if (trap) {
      fprintf(stderr, "bench: trap %d in bench_fill (%s)\n", (int)trap, MIX_NAMES[mix]);
      return 1;
    }
    co = Z_origZ_bench_fill(&orig, FILL_BLOCKS[mix], (u32)mix, 2463534242u);
    ch = Z_hostZ_bench_fill(&host, FILL_BLOCKS[mix], (u32)mix, 2463534242u);
    u64 heap_base = *Z_hostZ___heap_base(&host);
    u64 orig_mem = (u64)Z_origZ_memory(&orig)->pages * 65536u, host_mem = (u64)Z_hostZ_memory(&host)->pages * 65536u;
    hostalloc_stats(g_env_H.ha, &hs);
    u64 payload = fill_payload(FILL_BLOCKS[mix], mix);
    printf("%s{\"mix\":\"%s\",\"blocks\":%u,\"payload\":%llu,\"orig_memory\":%llu,\"host_memory\":%llu,"
           "\"host_high_water\":%llu,\"heap_base\":%llu,\"host_heap_high_water_vs_orig_heap\":%.3f,"
           "\"host_memory_vs_orig_memory\":%.3f,\"host_metadata_bytes\":%llu,\"metadata_per_heap_byte\":%.4f,"
           "\"checksums_equal\":%s}",
           mix ? "," : "", MIX_NAMES[mix], FILL_BLOCKS[mix], (unsigned long long)payload, (unsigned long long)orig_mem,
           (unsigned long long)host_mem, (unsigned long long)hs.high_water, (unsigned long long)heap_base,
           (double)(hs.high_water - heap_base) / (double)(orig_mem - heap_base), (double)host_mem / (double)orig_mem,
           (unsigned long long)hs.host_metadata_bytes,
           (double)hs.host_metadata_bytes / (double)(hs.high_water - hs.heap_start),
           co == ch ? "true" : "false");
  }
  printf("]}\n");
  hostalloc_destroy(direct);
  free(g_pm.buf);
  hostalloc_destroy(g_env_H.ha);
  if (g_env_S.ha) hostalloc_destroy(g_env_S.ha);
  return 0;
}
