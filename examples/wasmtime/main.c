/*
 * Embedding a wasm-hostalloc plugin in Wasmtime through its C API, with the heap served by
 * host/c/hostalloc.c through host/c/hostalloc_wasmtime.{h,c}.
 *
 *   usage: hostalloc-example plugin.wasm ["text to pass in"]
 *
 * The plugin is a module converted by `wasm-hostalloc` (docs/abi.md); here it also exports the
 * fixture workload functions (fixtures/src/workload.h):
 *   wl_input(ptr, len) -> i32   hashes a buffer the host allocated and takes ownership (frees it)
 *   wl_output(len) -> ptr       returns a block the host reads and then frees
 *
 * Compiled warning-free (gcc -Wall -Wextra -Werror -c) against the headers of Wasmtime's
 * crates/c-api/include; never linked or run in this repository (see README.md).
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
#include "hostalloc_wasmtime.h"

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

/* An exported function, or false. */
static bool get_func(wasmtime_context_t *cx, const wasmtime_instance_t *inst, const char *name,
                     wasmtime_func_t *out) {
  wasmtime_extern_t item;
  if (!wasmtime_instance_export_get(cx, inst, name, strlen(name), &item)) return false;
  bool ok = item.kind == WASMTIME_EXTERN_FUNC;
  if (ok) *out = item.of.func;
  wasmtime_extern_delete(&item);
  return ok;
}

/* Calls an export taking up to two i32 params and returning one i32 (or nothing). */
static int32_t call_i32(wasmtime_context_t *cx, const wasmtime_func_t *f, const char *name, const int32_t *argv,
                        size_t argc, size_t nresults) {
  wasmtime_val_t args[2], res[1];
  for (size_t i = 0; i < argc && i < 2; i++) {
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
  *len = n > 0 ? (size_t)n : 0;
  return buf;
}

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
  wasmtime_linker_t *linker = wasmtime_linker_new(engine);
  err = wasmtime_linker_define_wasi(linker);
  if (err) fail("defining WASI", err, NULL);

  /* The heap: env.host_* on the linker, then attach to the instance. */
  hostalloc_wasmtime_t *host = hostalloc_wasmtime_new();
  if (!host) fail("hostalloc_wasmtime_new", NULL, NULL);
  err = hostalloc_wasmtime_define(host, linker, module, NULL);
  if (err) fail("defining env.host_*", err, NULL);
  wasmtime_instance_t instance;
  wasm_trap_t *trap = NULL;
  err = wasmtime_linker_instantiate(linker, cx, module, &instance, &trap);
  if (err || trap) fail("instantiating", err, trap);
  err = hostalloc_wasmtime_attach(host, cx, &instance);
  if (err) fail("attaching the allocator", err, NULL);
  printf("attached: ABI %d, heap base %llu, align %u\n", (int)hostalloc_wasmtime_abi(host),
         (unsigned long long)hostalloc_wasmtime_heap_base(host), (unsigned)hostalloc_wasmtime_align(host));

  /* Reactor initialisation (wasi-libc, Emscripten STANDALONE_WASM): may already allocate. */
  wasmtime_func_t fn;
  if (get_func(cx, &instance, "_initialize", &fn)) call_i32(cx, &fn, "_initialize", NULL, 0, 0);

  /* 1. Pass a string in: allocated by the host, written, owned (and freed) by wl_input. */
  if (get_func(cx, &instance, "wl_input", &fn)) {
    uint32_t len = (uint32_t)strlen(text);
    uint64_t ptr = hostalloc_malloc(hostalloc_wasmtime_heap(host, cx), len);
    if (!ptr) fail("hostalloc_malloc", NULL, NULL);
    memcpy(hostalloc_wasmtime_data(host, cx) + ptr, text, len); /* base read after the malloc */
    int32_t args[2] = {(int32_t)(uint32_t)ptr, (int32_t)len};
    printf("wl_input(\"%s\") = 0x%08x\n", text, (unsigned)call_i32(cx, &fn, "wl_input", args, 2, 1));
  }

  /* 2. Read a result out: wl_output returns a block the host reads and then frees. */
  if (get_func(cx, &instance, "wl_output", &fn)) {
    int32_t len = 32;
    uint32_t ptr = (uint32_t)call_i32(cx, &fn, "wl_output", &len, 1, 1);
    if (ptr == 0) fail("wl_output returned NULL", NULL, NULL);
    const uint8_t *bytes = hostalloc_wasmtime_data(host, cx) + ptr; /* re-read: memory may have grown */
    printf("wl_output(%d) at 0x%x:", (int)len, (unsigned)ptr);
    for (int32_t i = 0; i < len; i++) printf(" %02x", bytes[i]);
    printf("\n");
    int rc = hostalloc_free(hostalloc_wasmtime_heap(host, cx), ptr);
    if (rc != HOSTALLOC_OK) fprintf(stderr, "free failed: %s\n", hostalloc_strerror(rc));
  }

  hostalloc_stats_t st;
  hostalloc_stats(hostalloc_wasmtime_heap(host, cx), &st);
  printf("heap [%llu, %llu): %llu bytes in use in %llu blocks, peak %llu, %llu grows, "
         "0 bytes of allocator metadata in linear memory (%llu in host memory)\n",
         (unsigned long long)st.heap_start, (unsigned long long)st.heap_end, (unsigned long long)st.in_use_bytes,
         (unsigned long long)st.used_blocks, (unsigned long long)st.peak_in_use_bytes,
         (unsigned long long)st.grow_count, (unsigned long long)st.host_metadata_bytes);

  wasmtime_linker_delete(linker);
  wasmtime_module_delete(module);
  wasmtime_store_delete(store);
  hostalloc_wasmtime_delete(host); /* after the linker and the store: their functions point at it */
  wasm_engine_delete(engine);
  return 0;
}
