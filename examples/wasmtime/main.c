/*
 * Embedding a wasm-hostalloc plugin in Wasmtime through its C API (wasm.h / wasmtime.h), with the
 * heap served by host/c/hostalloc.c.
 *
 *   usage: hostalloc-example plugin.wasm ["text to pass in"]
 *
 * The plugin is a module converted by `wasm-hostalloc` (or written against the same ABI): it
 * imports env.host_malloc/free/calloc/realloc/aligned_alloc/usable_size, exports `memory`,
 * `__heap_base` and `__hostalloc_abi` (= 1), and here also the fixture workload exports
 *   wl_input(ptr, len) -> i32   hashes a buffer the host allocated and takes ownership (frees it)
 *   wl_output(len) -> ptr       returns a block the host reads and then frees
 *
 * Steps: load + compile the module; define the env.host_* functions on a linker with
 * wasmtime_linker_define_func (WASI too, for wasi-libc / Rust plugins); instantiate; read
 * `__hostalloc_abi` and `__heap_base` with wasmtime_instance_export_get + wasmtime_global_get;
 * create the allocator over the exported memory (base/size/grow through wasmtime_memory_data,
 * wasmtime_memory_data_size, wasmtime_memory_grow); pass a string in; read a result out.
 *
 * Written against the Wasmtime C API as documented for Wasmtime 18+ (signatures checked against
 * docs.wasmtime.dev); NOT compiled or run in this repository's CI, which has no Wasmtime.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wasi.h>
#include <wasm.h>
#include <wasmtime.h>

#include "hostalloc.h"

/* ------------------------------------------------------------------ per-instance host state */

typedef struct plugin_host {
  wasmtime_context_t *cx; /* the context of the current call (set by every callback) */
  wasmtime_memory_t memory;
  bool attached;
  hostalloc_t *heap;
  int error;              /* pointer error reported by hostalloc during the current call */
  char error_text[160];
} plugin_host;

/* hostalloc memory ops over the instance's exported memory. The base is re-read on every call:
 * it may move after wasmtime_memory_grow. */
static uint8_t *mem_base(void *ctx) {
  plugin_host *h = ctx;
  return wasmtime_memory_data(h->cx, &h->memory);
}
static uint64_t mem_size(void *ctx) {
  plugin_host *h = ctx;
  return (uint64_t)wasmtime_memory_data_size(h->cx, &h->memory);
}
static int mem_grow(void *ctx, uint64_t delta_pages) {
  plugin_host *h = ctx;
  uint64_t prev_pages = 0;
  wasmtime_error_t *err = wasmtime_memory_grow(h->cx, &h->memory, delta_pages, &prev_pages);
  if (err) {
    wasmtime_error_delete(err); /* memory maximum or store limits reached: hostalloc returns 0 */
    return -1;
  }
  return 0;
}

static void on_heap_error(void *ctx, int code, const char *op, uint64_t ptr) {
  plugin_host *h = ctx;
  h->error = code;
  snprintf(h->error_text, sizeof h->error_text, "hostalloc: %s(0x%llx): %s", op, (unsigned long long)ptr,
           hostalloc_strerror(code));
}

/* Reads an immutable i32 global export; false when missing or not an i32 global. */
static bool get_i32_global(wasmtime_context_t *cx, const wasmtime_instance_t *inst, const char *name,
                           int32_t *out) {
  wasmtime_extern_t item;
  if (!wasmtime_instance_export_get(cx, inst, name, strlen(name), &item)) return false;
  bool ok = false;
  if (item.kind == WASMTIME_EXTERN_GLOBAL) {
    wasmtime_val_t v;
    wasmtime_global_get(cx, &item.of.global, &v);
    if (v.kind == WASMTIME_I32) {
      *out = v.of.i32;
      ok = true;
    }
  }
  wasmtime_extern_delete(&item);
  return ok;
}

/* Creates the allocator over the instance's memory, starting at __heap_base. */
static bool attach(plugin_host *h, wasmtime_context_t *cx, const wasmtime_instance_t *inst) {
  int32_t abi = 0, heap_base = 0;
  if (!get_i32_global(cx, inst, "__hostalloc_abi", &abi) || abi != HOSTALLOC_ABI_VERSION) {
    fprintf(stderr, "not a wasm-hostalloc module (__hostalloc_abi missing or != %d)\n", HOSTALLOC_ABI_VERSION);
    return false;
  }
  if (!get_i32_global(cx, inst, "__heap_base", &heap_base)) {
    fprintf(stderr, "module does not export __heap_base\n");
    return false;
  }
  wasmtime_extern_t item;
  if (!wasmtime_instance_export_get(cx, inst, "memory", 6, &item) || item.kind != WASMTIME_EXTERN_MEMORY) {
    fprintf(stderr, "module does not export its memory as \"memory\"\n");
    return false;
  }
  h->memory = item.of.memory;
  h->cx = cx;

  hostalloc_memory_ops ops;
  ops.ctx = h;
  ops.base = mem_base;
  ops.size = mem_size;
  ops.grow = mem_grow;
  ops.max_size = 0; /* wasm32: 4 GiB; Wasmtime enforces the module's own maximum in grow */
  uint64_t max_pages = 0;
  wasm_memorytype_t *mt = wasmtime_memory_type(cx, &h->memory);
  if (wasmtime_memorytype_maximum(mt, &max_pages)) ops.max_size = max_pages * HOSTALLOC_PAGE_SIZE;
  wasm_memorytype_delete(mt);

  h->heap = hostalloc_create(&ops, (uint32_t)heap_base, on_heap_error, h);
  if (!h->heap) {
    fprintf(stderr, "hostalloc_create failed (__heap_base %u beyond memory?)\n", (unsigned)heap_base);
    return false;
  }
  h->attached = true;
  return true;
}

/* ------------------------------------------------------------------ env.host_* callbacks */

/* Common prologue: the context for this call, and a trap if the allocator is not ready (e.g. a
 * start function allocating before attach; see README). */
static wasm_trap_t *enter(plugin_host *h, wasmtime_caller_t *caller) {
  h->cx = wasmtime_caller_context(caller);
  h->error = 0;
  if (!h->attached) {
    static const char msg[] = "host_* called before the allocator was attached";
    return wasmtime_trap_new(msg, sizeof msg - 1);
  }
  return NULL;
}

/* Pointer errors (invalid / interior / double free) trap the guest. */
static wasm_trap_t *leave(plugin_host *h) {
  if (h->error) return wasmtime_trap_new(h->error_text, strlen(h->error_text));
  return NULL;
}

static uint32_t arg_u32(const wasmtime_val_t *args, size_t i) { return (uint32_t)args[i].of.i32; }
static void ret_u32(wasmtime_val_t *results, uint64_t v) {
  results[0].kind = WASMTIME_I32;
  results[0].of.i32 = (int32_t)(uint32_t)v;
}

static wasm_trap_t *cb_malloc(void *env, wasmtime_caller_t *caller, const wasmtime_val_t *args, size_t nargs,
                              wasmtime_val_t *results, size_t nresults) {
  (void)nargs, (void)nresults;
  plugin_host *h = env;
  wasm_trap_t *t = enter(h, caller);
  if (t) return t;
  ret_u32(results, hostalloc_malloc(h->heap, arg_u32(args, 0)));
  return leave(h);
}
static wasm_trap_t *cb_free(void *env, wasmtime_caller_t *caller, const wasmtime_val_t *args, size_t nargs,
                            wasmtime_val_t *results, size_t nresults) {
  (void)nargs, (void)results, (void)nresults;
  plugin_host *h = env;
  wasm_trap_t *t = enter(h, caller);
  if (t) return t;
  hostalloc_free(h->heap, arg_u32(args, 0));
  return leave(h);
}
static wasm_trap_t *cb_calloc(void *env, wasmtime_caller_t *caller, const wasmtime_val_t *args, size_t nargs,
                              wasmtime_val_t *results, size_t nresults) {
  (void)nargs, (void)nresults;
  plugin_host *h = env;
  wasm_trap_t *t = enter(h, caller);
  if (t) return t;
  ret_u32(results, hostalloc_calloc(h->heap, arg_u32(args, 0), arg_u32(args, 1)));
  return leave(h);
}
static wasm_trap_t *cb_realloc(void *env, wasmtime_caller_t *caller, const wasmtime_val_t *args, size_t nargs,
                               wasmtime_val_t *results, size_t nresults) {
  (void)nargs, (void)nresults;
  plugin_host *h = env;
  wasm_trap_t *t = enter(h, caller);
  if (t) return t;
  ret_u32(results, hostalloc_realloc(h->heap, arg_u32(args, 0), arg_u32(args, 1)));
  return leave(h);
}
static wasm_trap_t *cb_aligned_alloc(void *env, wasmtime_caller_t *caller, const wasmtime_val_t *args,
                                     size_t nargs, wasmtime_val_t *results, size_t nresults) {
  (void)nargs, (void)nresults;
  plugin_host *h = env;
  wasm_trap_t *t = enter(h, caller);
  if (t) return t;
  ret_u32(results, hostalloc_aligned_alloc(h->heap, arg_u32(args, 0), arg_u32(args, 1)));
  return leave(h);
}
static wasm_trap_t *cb_usable_size(void *env, wasmtime_caller_t *caller, const wasmtime_val_t *args,
                                   size_t nargs, wasmtime_val_t *results, size_t nresults) {
  (void)nargs, (void)nresults;
  plugin_host *h = env;
  wasm_trap_t *t = enter(h, caller);
  if (t) return t;
  ret_u32(results, hostalloc_usable_size(h->heap, arg_u32(args, 0)));
  return leave(h);
}

/* ------------------------------------------------------------------ helpers */

static void fail(const char *what, wasmtime_error_t *err, wasm_trap_t *trap) {
  wasm_byte_vec_t msg = {0, NULL};
  if (err) {
    wasmtime_error_message(err, &msg);
    wasmtime_error_delete(err);
  } else if (trap) {
    wasm_trap_message(trap, &msg);
    wasm_trap_delete(trap);
  }
  fprintf(stderr, "error: %s: %.*s\n", what, (int)msg.size, msg.data ? msg.data : "");
  wasm_byte_vec_delete(&msg);
  exit(1);
}

/* Defines env.<name> with `nparams` i32 params and `nresults` (0 or 1) i32 results. */
static void define(wasmtime_linker_t *linker, const char *name, size_t nparams, size_t nresults,
                   wasmtime_func_callback_t cb, plugin_host *h) {
  wasm_valtype_vec_t params, results;
  wasm_valtype_t *p[2] = {wasm_valtype_new_i32(), wasm_valtype_new_i32()};
  wasm_valtype_t *r[1] = {wasm_valtype_new_i32()};
  if (nparams < 2) wasm_valtype_delete(p[1]);
  if (nresults < 1) wasm_valtype_delete(r[0]);
  wasm_valtype_vec_new(&params, nparams, p);
  wasm_valtype_vec_new(&results, nresults, r);
  wasm_functype_t *ty = wasm_functype_new(&params, &results); /* takes the vectors */
  wasmtime_error_t *err = wasmtime_linker_define_func(linker, "env", 3, name, strlen(name), ty, cb, h, NULL);
  wasm_functype_delete(ty);
  if (err) fail(name, err, NULL);
}

static bool get_func(wasmtime_context_t *cx, const wasmtime_instance_t *inst, const char *name,
                     wasmtime_func_t *out) {
  wasmtime_extern_t item;
  if (!wasmtime_instance_export_get(cx, inst, name, strlen(name), &item)) return false;
  if (item.kind != WASMTIME_EXTERN_FUNC) {
    wasmtime_extern_delete(&item);
    return false;
  }
  *out = item.of.func;
  return true;
}

/* Calls an export taking i32 params and returning one i32 (or nothing). */
static int32_t call_i32(wasmtime_context_t *cx, const wasmtime_func_t *f, const char *name, const int32_t *argv,
                        size_t argc, size_t nresults) {
  wasmtime_val_t args[4], res[1];
  for (size_t i = 0; i < argc; i++) {
    args[i].kind = WASMTIME_I32;
    args[i].of.i32 = argv[i];
  }
  wasm_trap_t *trap = NULL;
  wasmtime_error_t *err = wasmtime_func_call(cx, f, args, argc, res, nresults, &trap);
  if (err || trap) fail(name, err, trap);
  return nresults ? res[0].of.i32 : 0;
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = n > 0 ? malloc((size_t)n) : NULL;
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return buf;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s plugin.wasm [\"text to pass in\"]\n", argv[0]);
    return 2;
  }
  const char *text = argc > 2 ? argv[2] : "Hello from the host, allocated by hostalloc!";

  size_t wasm_len = 0;
  uint8_t *wasm = read_file(argv[1], &wasm_len);
  if (!wasm) {
    fprintf(stderr, "cannot read %s\n", argv[1]);
    return 1;
  }

  wasm_engine_t *engine = wasm_engine_new();
  wasmtime_store_t *store = wasmtime_store_new(engine, NULL, NULL);
  wasmtime_context_t *cx = wasmtime_store_context(store);
  wasmtime_module_t *module = NULL;
  wasmtime_error_t *err = wasmtime_module_new(engine, wasm, wasm_len, &module);
  free(wasm);
  if (err) fail("compiling the module", err, NULL);

  /* WASI for plugins built with wasi-libc or Rust's wasm32-wasi (harmless for the others). */
  wasi_config_t *wasi = wasi_config_new();
  wasi_config_inherit_stdout(wasi);
  wasi_config_inherit_stderr(wasi);
  err = wasmtime_context_set_wasi(cx, wasi); /* takes ownership of `wasi` */
  if (err) fail("configuring WASI", err, NULL);

  plugin_host host;
  memset(&host, 0, sizeof host);
  wasmtime_linker_t *linker = wasmtime_linker_new(engine);
  err = wasmtime_linker_define_wasi(linker);
  if (err) fail("defining WASI", err, NULL);
  define(linker, "host_malloc", 1, 1, cb_malloc, &host);
  define(linker, "host_free", 1, 0, cb_free, &host);
  define(linker, "host_calloc", 2, 1, cb_calloc, &host);
  define(linker, "host_realloc", 2, 1, cb_realloc, &host);
  define(linker, "host_aligned_alloc", 2, 1, cb_aligned_alloc, &host);
  define(linker, "host_usable_size", 1, 1, cb_usable_size, &host);

  wasmtime_instance_t instance;
  wasm_trap_t *trap = NULL;
  err = wasmtime_linker_instantiate(linker, cx, module, &instance, &trap);
  if (err || trap) fail("instantiating", err, trap);
  if (!attach(&host, cx, &instance)) return 1;

  /* Reactor initialisation (wasi-libc, Emscripten STANDALONE_WASM): may already allocate. */
  wasmtime_func_t fn;
  if (get_func(cx, &instance, "_initialize", &fn)) call_i32(cx, &fn, "_initialize", NULL, 0, 0);

  /* 1. Pass a string in: the host allocates it in linear memory and writes it; wl_input takes
   *    ownership (it frees the buffer with free(), i.e. host_free). */
  wasmtime_func_t wl_input, wl_output;
  if (get_func(cx, &instance, "wl_input", &wl_input)) {
    uint32_t len = (uint32_t)strlen(text);
    host.cx = cx;
    uint64_t ptr = hostalloc_malloc(host.heap, len);
    if (!ptr) {
      fprintf(stderr, "hostalloc_malloc(%u) failed\n", len);
      return 1;
    }
    memcpy(wasmtime_memory_data(cx, &host.memory) + ptr, text, len); /* base fetched after malloc */
    int32_t args[2] = {(int32_t)(uint32_t)ptr, (int32_t)len};
    uint32_t h = (uint32_t)call_i32(cx, &wl_input, "wl_input", args, 2, 1);
    printf("wl_input(\"%s\") = 0x%08x\n", text, h);
  }

  /* 2. Read a result out: wl_output returns a block the host reads and then frees. */
  if (get_func(cx, &instance, "wl_output", &wl_output)) {
    int32_t len = 32;
    uint32_t ptr = (uint32_t)call_i32(cx, &wl_output, "wl_output", &len, 1, 1);
    if (ptr == 0) {
      fprintf(stderr, "wl_output returned NULL\n");
      return 1;
    }
    host.cx = cx;
    const uint8_t *bytes = wasmtime_memory_data(cx, &host.memory) + ptr; /* re-read: memory may have grown */
    printf("wl_output(%d) at 0x%x:", len, ptr);
    for (int32_t i = 0; i < len; i++) printf(" %02x", bytes[i]);
    printf("\n");
    int rc = hostalloc_free(host.heap, ptr);
    if (rc != HOSTALLOC_OK) fprintf(stderr, "free failed: %s\n", hostalloc_strerror(rc));
  }

  hostalloc_stats_t st;
  host.cx = cx;
  hostalloc_stats(host.heap, &st);
  printf("heap [%llu, %llu): %llu bytes in use in %llu blocks, peak %llu, %llu free blocks, %llu grows, "
         "0 bytes of allocator metadata in linear memory (%llu in host memory)\n",
         (unsigned long long)st.heap_start, (unsigned long long)st.heap_end, (unsigned long long)st.in_use_bytes,
         (unsigned long long)st.used_blocks, (unsigned long long)st.peak_in_use_bytes,
         (unsigned long long)st.free_blocks, (unsigned long long)st.grow_count,
         (unsigned long long)st.host_metadata_bytes);

  hostalloc_destroy(host.heap);
  wasmtime_linker_delete(linker);
  wasmtime_module_delete(module);
  wasmtime_store_delete(store);
  wasm_engine_delete(engine);
  return 0;
}
