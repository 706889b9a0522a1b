/*
 * wasm2c driver: runs the workload ABI of fixtures/src/workload.h (the same workloads as
 * test/harness/run.ts runWorkloads) on a transformed module compiled by wasm2c, with the
 * env.host_* imports served by host/c/hostalloc.c. Prints JSON lines on stdout:
 *
 *   {"workload":"wl_mixed","result":[...]}     one per workload, unsigned checksums
 *   {"stats":{...}}                            allocator statistics at the end
 *   {"error":"..."}                            on a trap, a failed check, a bad module
 *
 * Exit status 0 when every workload ran and the allocator state checks out, 1 otherwise.
 *
 * Build (run.sh does it):
 *   wasm2c mod.wasm -n plugin -o plugin.c
 *   node gen-glue.mjs plugin.h plugin P > glue.h
 *   gcc -I/usr/share/wabt/wasm2c -Ihost/c -I<dir of plugin.h, glue.h> plugin.c \
 *       /usr/share/wabt/wasm2c/wasm-rt-impl.c host/c/hostalloc.c driver.c -lm
 *
 * usage: driver [--growth] [--no-abi]
 *   --growth   also run wl_big(3) (~28 MiB live, forces memory growth), as the harness does for
 *              fixtures with "growth": true
 *   --no-abi   do not require the __hostalloc_abi export
 */
#include "plugin.h"
#include "glue.h"
#include "w2c_host.h"
#include "wasm-rt-impl.h"

static struct Z_env_instance_t g_env;
static struct Z_wasi_snapshot_preview1_instance_t g_wasi = {NULL, -1};
static Z_plugin_instance_t g_inst;
static int g_failures;

/* Same constants as test/harness/run.ts */
static const u32 MIXED_SEEDS[] = {1, 2, 3, 4, 5};
static const u32 CXX_SEEDS[] = {1, 2, 3};
static const u32 INPUT_LENGTHS[] = {1, 100, 5000, 70000};
static const u32 OUTPUT_LENGTHS[] = {1, 64, 4096, 100000};
#define BIG_SEED 1
#define BIG_GROW_SEED 3

static u32 fnv1a(const u8 *p, u32 n) {
  u32 h = 2166136261u;
  for (u32 i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}
static u8 input_byte(u32 n, u32 i) { return (u8)(i * 13u + n + (i >> 5)); }
static u8 output_byte(u32 n, u32 i) { return (u8)(i * 7u + n + (i >> 8)); }

static void error_line(const char *what, const char *detail) {
  printf("{\"error\":\"%s: %s\"}\n", what, detail);
  g_failures++;
}

static void print_list(const char *name, const u32 *v, size_t n) {
  printf("{\"workload\":\"%s\",\"result\":[", name);
  for (size_t i = 0; i < n; i++) printf("%s%u", i ? "," : "", v[i]);
  printf("]}\n");
}

/* Runs `expr` (assigning to `out`) under trap recovery; on a trap prints an error and jumps on. */
#define TRY(label, stmt)                                                 \
  do {                                                                   \
    wasm_rt_trap_t trap_ = (wasm_rt_trap_t)wasm_rt_impl_try();           \
    if (trap_ == 0) {                                                    \
      stmt;                                                              \
    } else {                                                             \
      char buf_[160];                                                    \
      snprintf(buf_, sizeof buf_, "trap %s%s%s", wasm_rt_strerror(trap_), \
               g_env.last_error ? " after " : "",                        \
               g_env.last_error ? hostalloc_strerror(g_env.last_error) : ""); \
      error_line(label, buf_);                                           \
      g_env.last_error = 0;                                              \
      ok_ = 0;                                                           \
    }                                                                    \
  } while (0)

int main(int argc, char **argv) {
  int growth = 0, need_abi = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--growth")) growth = 1;
    else if (!strcmp(argv[i], "--no-abi")) need_abi = 0;
    else {
      fprintf(stderr, "usage: %s [--growth] [--no-abi]\n", argv[0]);
      return 2;
    }
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  wasm_rt_init();
  Z_plugin_init_module();
  P_INSTANTIATE(&g_inst);
  wasm_rt_memory_t *mem = Z_pluginZ_memory(&g_inst);
  g_wasi.mem = mem;
  int ok_ = 1;

#ifdef HAVE_P___hostalloc_abi
  u32 abi = *Z_pluginZ___hostalloc_abi(&g_inst);
  if (abi < 1 || abi > HOSTALLOC_ABI_VERSION) { /* ABI 1 (no __hostalloc_grow) is still served */
    char b[64];
    snprintf(b, sizeof b, "__hostalloc_abi is %u, expected 1..%u", abi, HOSTALLOC_ABI_VERSION);
    error_line("module", b);
    return 1;
  }
#else
  if (need_abi) {
    error_line("module", "no __hostalloc_abi export (not a transformed module)");
    return 1;
  }
#endif
#ifdef HAVE_P___heap_base
  u32 heap_base = *Z_pluginZ___heap_base(&g_inst);
#else
  error_line("module", "no __heap_base export");
  return 1;
  u32 heap_base = 0;
#endif
  if (w2c_env_attach(&g_env, mem, heap_base) != 0) {
    error_line("module", "hostalloc_create failed (heap base beyond memory?)");
    return 1;
  }

#ifdef HAVE_P__initialize
  TRY("_initialize", Z_pluginZ__initialize(&g_inst));
#endif
  hostalloc_stats_t s0;
  hostalloc_stats(g_env.ha, &s0);

#ifdef HAVE_P_wl_mixed
  {
    u32 r[5];
    for (int i = 0; i < 5; i++) {
      r[i] = 0;
      TRY("wl_mixed", r[i] = Z_pluginZ_wl_mixed(&g_inst, MIXED_SEEDS[i]));
    }
    print_list("wl_mixed", r, 5);
  }
#endif
#ifdef HAVE_P_wl_big
  {
    u32 r = 0;
    TRY("wl_big", r = Z_pluginZ_wl_big(&g_inst, BIG_SEED));
    printf("{\"workload\":\"wl_big\",\"result\":%u}\n", r);
    if (growth) {
      r = 0;
      TRY("wl_big_grow", r = Z_pluginZ_wl_big(&g_inst, BIG_GROW_SEED));
      printf("{\"workload\":\"wl_big_grow\",\"result\":%u}\n", r);
    }
  }
#endif
#ifdef HAVE_P_wl_input
  {
    u32 r[4];
    for (int i = 0; i < 4; i++) {
      u32 len = INPUT_LENGTHS[i];
      u32 p = (u32)hostalloc_malloc(g_env.ha, len);
      r[i] = 0;
      if (!p) {
        error_line("wl_input", "host malloc returned 0");
        continue;
      }
      for (u32 k = 0; k < len; k++) mem->data[p + k] = input_byte(len, k);
      TRY("wl_input", r[i] = Z_pluginZ_wl_input(&g_inst, p, len)); /* the plugin frees p */
    }
    print_list("wl_input", r, 4);
  }
#endif
#ifdef HAVE_P_wl_output
  {
    u32 r[4];
    for (int i = 0; i < 4; i++) {
      u32 len = OUTPUT_LENGTHS[i], p = 0;
      r[i] = 0;
      TRY("wl_output", p = Z_pluginZ_wl_output(&g_inst, len));
      if (!p) {
        error_line("wl_output", "returned 0");
        continue;
      }
      if ((u64)p + len > (u64)mem->pages * 65536u) {
        error_line("wl_output", "block beyond memory");
        continue;
      }
      const u8 *b = mem->data + p;
      for (u32 k = 0; k < len; k++)
        if (b[k] != output_byte(len, k)) {
          error_line("wl_output", "bytes differ from workload.h wl_out_byte");
          break;
        }
      r[i] = fnv1a(b, len);
      if (hostalloc_free(g_env.ha, p) != 0) error_line("wl_output", "host free of the result failed");
      g_env.last_error = 0;
    }
    print_list("wl_output", r, 4);
  }
#endif
#ifdef HAVE_P_wl_cxx
  {
    u32 r[3];
    for (int i = 0; i < 3; i++) {
      r[i] = 0;
      TRY("wl_cxx", r[i] = Z_pluginZ_wl_cxx(&g_inst, CXX_SEEDS[i]));
    }
    print_list("wl_cxx", r, 3);
  }
#endif
#ifdef HAVE_P_wl_usable
  {
    u32 r = 0;
    TRY("wl_usable", r = Z_pluginZ_wl_usable(&g_inst, 1000));
    if (r != 1) error_line("wl_usable", "usable size below the requested size");
  }
#endif

  hostalloc_stats_t s;
  hostalloc_stats(g_env.ha, &s);
  if (hostalloc_check(g_env.ha) != HOSTALLOC_OK) error_line("hostalloc_check", "allocator state inconsistent");
  if (s.error_count) error_line("hostalloc", "pointer errors were reported");
  printf("{\"stats\":{\"heap_start\":%llu,\"heap_end\":%llu,\"memory_pages\":%u,\"in_use\":%llu,"
         "\"in_use_after_init\":%llu,\"peak\":%llu,\"used_blocks\":%llu,\"free_blocks\":%llu,"
         "\"grows\":%llu,\"mallocs\":%llu,\"frees\":%llu,\"failed\":%llu,\"host_calls\":%llu,"
         "\"host_metadata\":%llu,\"inband_overhead\":%llu}}\n",
         (unsigned long long)s.heap_start, (unsigned long long)s.heap_end, mem->pages,
         (unsigned long long)s.in_use_bytes, (unsigned long long)s0.in_use_bytes,
         (unsigned long long)s.peak_in_use_bytes, (unsigned long long)s.used_blocks,
         (unsigned long long)s.free_blocks, (unsigned long long)s.grow_count,
         (unsigned long long)s.malloc_count, (unsigned long long)s.free_count,
         (unsigned long long)s.failed_count, (unsigned long long)g_env.calls,
         (unsigned long long)s.host_metadata_bytes, (unsigned long long)s.inband_overhead_bytes);
  (void)ok_;
  hostalloc_destroy(g_env.ha);
  Z_plugin_free(&g_inst);
  wasm_rt_free();
  return g_failures ? 1 : 0;
}
