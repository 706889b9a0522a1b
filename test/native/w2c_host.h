/*
 * Host side of a wasm2c-compiled plugin (wabt 1.0.32 naming): the env.host_* imports served by
 * hostalloc over the instance's exported memory, plus minimal WASI preview1 stubs and Emscripten's
 * growth notification. Included once by driver.c and by bench.c.
 *
 * Every import receives the context pointer given at instantiation (struct Z_env_instance_t /
 * struct Z_wasi_snapshot_preview1_instance_t are defined here, wasm2c only declares them), so one
 * process can run several instances, each with its own allocator.
 */
#ifndef W2C_HOST_H
#define W2C_HOST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostalloc.h"
#include "wasm-rt.h"

struct Z_env_instance_t {
  hostalloc_t *ha;
  wasm_rt_memory_t *mem;
  int last_error;        /* pointer error reported by hostalloc (the import then traps) */
  uint64_t last_error_ptr;
  uint64_t calls;        /* number of host_* calls */
};

struct Z_wasi_snapshot_preview1_instance_t {
  wasm_rt_memory_t *mem;
  int exit_code; /* -1 until proc_exit */
};

/* ---- hostalloc memory ops over a wasm2c memory ---- */

static uint8_t *w2c_mem_base(void *ctx) { return ((struct Z_env_instance_t *)ctx)->mem->data; }
static uint64_t w2c_mem_size(void *ctx) {
  return (uint64_t)((struct Z_env_instance_t *)ctx)->mem->pages * HOSTALLOC_PAGE_SIZE;
}
static int w2c_mem_grow(void *ctx, uint64_t pages) {
  wasm_rt_memory_t *m = ((struct Z_env_instance_t *)ctx)->mem;
  if (pages > 65536) return -1;
  return wasm_rt_grow_memory(m, (uint32_t)pages) == (uint32_t)-1 ? -1 : 0;
}
static void w2c_on_error(void *ctx, int code, const char *op, uint64_t ptr) {
  struct Z_env_instance_t *env = (struct Z_env_instance_t *)ctx;
  env->last_error = code;
  env->last_error_ptr = ptr;
  fprintf(stderr, "hostalloc: %s(%llu): %s\n", op, (unsigned long long)ptr, hostalloc_strerror(code));
}

/* Attach an allocator with size-class granule `granule` (8 or 16) to an instantiated module's
 * memory. Returns 0 or the hostalloc_create2 error code. */
static int w2c_env_attach2(struct Z_env_instance_t *env, wasm_rt_memory_t *mem, uint64_t heap_base,
                           uint32_t granule) {
  env->mem = mem;
  env->last_error = 0;
  hostalloc_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.ops.ctx = env;
  cfg.ops.base = w2c_mem_base;
  cfg.ops.size = w2c_mem_size;
  cfg.ops.grow = w2c_mem_grow;
  cfg.ops.max_size = (mem->max_pages >= 65536u) ? 0 : (uint64_t)mem->max_pages * HOSTALLOC_PAGE_SIZE;
  cfg.heap_base = (heap_base + 15u) & ~(uint64_t)15u;
  cfg.granule = granule;
  cfg.on_error = w2c_on_error;
  cfg.error_ctx = env;
  return hostalloc_create2(&cfg, &env->ha);
}

/* Attach with the default granule (16). Returns 0 on success. */
static int w2c_env_attach(struct Z_env_instance_t *env, wasm_rt_memory_t *mem, uint64_t heap_base) {
  return w2c_env_attach2(env, mem, heap_base, 16) == HOSTALLOC_OK ? 0 : -1;
}

/* Pointer errors trap the calling export, like the JS host's throw. */
#define W2C_TRAP_ON_ERROR(env)                                     \
  do {                                                             \
    if ((env)->last_error) wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE); \
  } while (0)

/* ---- env.host_* ---- */

u32 Z_envZ_host_malloc(struct Z_env_instance_t *env, u32 size) {
  env->calls++;
  return (u32)hostalloc_malloc(env->ha, size);
}
void Z_envZ_host_free(struct Z_env_instance_t *env, u32 ptr) {
  env->calls++;
  hostalloc_free(env->ha, ptr);
  W2C_TRAP_ON_ERROR(env);
}
u32 Z_envZ_host_calloc(struct Z_env_instance_t *env, u32 n, u32 size) {
  env->calls++;
  return (u32)hostalloc_calloc(env->ha, n, size);
}
u32 Z_envZ_host_realloc(struct Z_env_instance_t *env, u32 ptr, u32 size) {
  env->calls++;
  u32 r = (u32)hostalloc_realloc(env->ha, ptr, size);
  W2C_TRAP_ON_ERROR(env);
  return r;
}
u32 Z_envZ_host_aligned_alloc(struct Z_env_instance_t *env, u32 align, u32 size) {
  env->calls++;
  return (u32)hostalloc_aligned_alloc(env->ha, align, size);
}
u32 Z_envZ_host_usable_size(struct Z_env_instance_t *env, u32 ptr) {
  env->calls++;
  u32 r = (u32)hostalloc_usable_size(env->ha, ptr);
  W2C_TRAP_ON_ERROR(env);
  return r;
}
void Z_envZ_emscripten_notify_memory_growth(struct Z_env_instance_t *env, u32 index) {
  (void)env;
  (void)index;
}

/* ---- minimal WASI preview1 (what the fixtures import, and a few more) ---- */

#define WASI_ESUCCESS 0u
#define WASI_EBADF 8u
#define WASI_EFAULT 21u
#define WASI_ENOSYS 52u

static int wasi_range_ok(wasm_rt_memory_t *m, u32 p, u64 n) { return (u64)p + n <= (u64)m->size; }
static void wasi_store32(wasm_rt_memory_t *m, u32 p, u32 v) { memcpy(m->data + p, &v, 4); }
static u32 wasi_load32(wasm_rt_memory_t *m, u32 p) {
  u32 v;
  memcpy(&v, m->data + p, 4);
  return v;
}

u32 Z_wasi_snapshot_preview1Z_fd_write(struct Z_wasi_snapshot_preview1_instance_t *w, u32 fd, u32 iovs,
                                        u32 iovs_len, u32 nwritten) {
  wasm_rt_memory_t *m = w->mem;
  if (fd != 1 && fd != 2) return WASI_EBADF;
  if (!wasi_range_ok(m, iovs, (u64)iovs_len * 8) || !wasi_range_ok(m, nwritten, 4)) return WASI_EFAULT;
  u32 total = 0;
  for (u32 i = 0; i < iovs_len; i++) {
    u32 p = wasi_load32(m, iovs + i * 8), n = wasi_load32(m, iovs + i * 8 + 4);
    if (!wasi_range_ok(m, p, n)) return WASI_EFAULT;
    /* plugin output goes to stderr: stdout carries the JSON results */
    fwrite(m->data + p, 1, n, stderr);
    total += n;
  }
  wasi_store32(m, nwritten, total);
  return WASI_ESUCCESS;
}
u32 Z_wasi_snapshot_preview1Z_fd_close(struct Z_wasi_snapshot_preview1_instance_t *w, u32 fd) {
  (void)w;
  (void)fd;
  return WASI_ESUCCESS;
}
u32 Z_wasi_snapshot_preview1Z_fd_seek(struct Z_wasi_snapshot_preview1_instance_t *w, u32 fd, u64 off,
                                       u32 whence, u32 out) {
  (void)w, (void)fd, (void)off, (void)whence, (void)out;
  return WASI_ENOSYS;
}
u32 Z_wasi_snapshot_preview1Z_fd_fdstat_get(struct Z_wasi_snapshot_preview1_instance_t *w, u32 fd, u32 out) {
  wasm_rt_memory_t *m = w->mem;
  if (fd > 2) return WASI_EBADF;
  if (!wasi_range_ok(m, out, 24)) return WASI_EFAULT;
  memset(m->data + out, 0, 24);
  m->data[out] = 2; /* character device */
  return WASI_ESUCCESS;
}
static u32 wasi_sizes_zero(wasm_rt_memory_t *m, u32 a, u32 b) {
  if (!wasi_range_ok(m, a, 4) || !wasi_range_ok(m, b, 4)) return WASI_EFAULT;
  wasi_store32(m, a, 0);
  wasi_store32(m, b, 0);
  return WASI_ESUCCESS;
}
u32 Z_wasi_snapshot_preview1Z_environ_sizes_get(struct Z_wasi_snapshot_preview1_instance_t *w, u32 a, u32 b) {
  return wasi_sizes_zero(w->mem, a, b);
}
u32 Z_wasi_snapshot_preview1Z_environ_get(struct Z_wasi_snapshot_preview1_instance_t *w, u32 a, u32 b) {
  (void)w, (void)a, (void)b;
  return WASI_ESUCCESS;
}
u32 Z_wasi_snapshot_preview1Z_args_sizes_get(struct Z_wasi_snapshot_preview1_instance_t *w, u32 a, u32 b) {
  return wasi_sizes_zero(w->mem, a, b);
}
u32 Z_wasi_snapshot_preview1Z_args_get(struct Z_wasi_snapshot_preview1_instance_t *w, u32 a, u32 b) {
  (void)w, (void)a, (void)b;
  return WASI_ESUCCESS;
}
void Z_wasi_snapshot_preview1Z_proc_exit(struct Z_wasi_snapshot_preview1_instance_t *w, u32 code) {
  w->exit_code = (int)code;
  wasm_rt_trap(WASM_RT_TRAP_UNREACHABLE);
}
u32 Z_wasi_snapshot_preview1Z_clock_time_get(struct Z_wasi_snapshot_preview1_instance_t *w, u32 id, u64 prec,
                                              u32 out) {
  (void)id, (void)prec;
  if (!wasi_range_ok(w->mem, out, 8)) return WASI_EFAULT;
  u64 t = 1700000000ull * 1000000000ull; /* deterministic */
  memcpy(w->mem->data + out, &t, 8);
  return WASI_ESUCCESS;
}
u32 Z_wasi_snapshot_preview1Z_random_get(struct Z_wasi_snapshot_preview1_instance_t *w, u32 buf, u32 len) {
  if (!wasi_range_ok(w->mem, buf, len)) return WASI_EFAULT;
  u32 s = 0x12345678u; /* deterministic */
  for (u32 i = 0; i < len; i++) {
    s ^= s << 13, s ^= s >> 17, s ^= s << 5;
    w->mem->data[buf + i] = (u8)s;
  }
  return WASI_ESUCCESS;
}

#endif /* W2C_HOST_H */
