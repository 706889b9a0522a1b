/*
 * hostalloc_wasmtime — see hostalloc_wasmtime.h. Written against the Wasmtime C API headers
 * (crates/c-api/include: wasm.h, wasmtime.h and the wasmtime/ directory).
 */
#include "hostalloc_wasmtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The six imports, in the order of the ABI table (docs/abi.md). */
enum op { OP_MALLOC, OP_FREE, OP_CALLOC, OP_REALLOC, OP_ALIGNED_ALLOC, OP_USABLE_SIZE, OP_COUNT };

static const struct {
  const char *name;
  size_t params;
  size_t results;
} OPS[OP_COUNT] = {
    {"host_malloc", 1, 1},  {"host_free", 1, 0},          {"host_calloc", 2, 1},
    {"host_realloc", 2, 1}, {"host_aligned_alloc", 2, 1}, {"host_usable_size", 1, 1},
};

/* What the linker passes to each callback: the adapter and the operation. */
struct binding {
  hostalloc_wasmtime_t *h;
  enum op op;
};

struct hostalloc_wasmtime {
  struct binding bindings[OP_COUNT];
  wasmtime_context_t *cx; /* context of the current call: the memory callbacks use it */
  wasmtime_memory_t memory;
  bool attached;
  bool is64;          /* pointer type of the imports (set by define, checked by attach) */
  uint8_t page_log2;  /* log2 of the memory's page size (16 unless custom-page-sizes) */
  int32_t abi;
  uint32_t align;
  uint64_t heap_base;
  hostalloc_t *heap;
  int error; /* pointer error reported by hostalloc during the current call */
  char error_text[192];
};

/* ------------------------------------------------------------------ hostalloc memory ops */

static uint8_t *mem_base(void *ctx) {
  hostalloc_wasmtime_t *h = ctx;
  return wasmtime_memory_data(h->cx, &h->memory);
}

static uint64_t mem_size(void *ctx) {
  hostalloc_wasmtime_t *h = ctx;
  return (uint64_t)wasmtime_memory_data_size(h->cx, &h->memory);
}

/* hostalloc asks in 64 KiB pages; the memory may count in smaller ones (custom-page-sizes). */
static int mem_grow(void *ctx, uint64_t delta_pages) {
  hostalloc_wasmtime_t *h = ctx;
  unsigned shift = 16u - h->page_log2;
  if (delta_pages > (UINT64_MAX >> shift)) return -1;
  uint64_t prev = 0;
  wasmtime_error_t *err = wasmtime_memory_grow(h->cx, &h->memory, delta_pages << shift, &prev);
  if (err) {
    wasmtime_error_delete(err); /* maximum or store limits reached: the import returns 0 */
    return -1;
  }
  return 0;
}

static void on_heap_error(void *ctx, int code, const char *op, uint64_t ptr) {
  hostalloc_wasmtime_t *h = ctx;
  h->error = code;
  snprintf(h->error_text, sizeof h->error_text, "hostalloc: %s(0x%llx): %s", op, (unsigned long long)ptr,
           hostalloc_strerror(code));
}

/* ------------------------------------------------------------------ attach */

/* Looks an export up in an instance (caller == NULL) or in the calling instance. */
typedef struct exports {
  wasmtime_context_t *cx;
  const wasmtime_instance_t *instance;
  wasmtime_caller_t *caller;
} exports_t;

static bool export_get(const exports_t *src, const char *name, wasmtime_extern_t *out) {
  if (src->caller) return wasmtime_caller_export_get(src->caller, name, strlen(name), out);
  return wasmtime_instance_export_get(src->cx, src->instance, name, strlen(name), out);
}

/* Reads an exported global of an integer type. 0: missing; -1: not a global of i32/i64; else the
 * kind (WASMTIME_I32 or WASMTIME_I64) with the value in *out. */
static int global_get(const exports_t *src, const char *name, int64_t *out) {
  wasmtime_extern_t item;
  if (!export_get(src, name, &item)) return 0;
  int kind = -1;
  if (item.kind == WASMTIME_EXTERN_GLOBAL) {
    wasmtime_val_t v;
    wasmtime_global_get(src->cx, &item.of.global, &v);
    if (v.kind == WASMTIME_I32) {
      *out = v.of.i32;
      kind = WASMTIME_I32;
    } else if (v.kind == WASMTIME_I64) {
      *out = v.of.i64;
      kind = WASMTIME_I64;
    }
  }
  wasmtime_extern_delete(&item);
  return kind;
}

/* Attaches from an export source; on failure writes the reason to `why` and returns false. */
static bool attach_from(hostalloc_wasmtime_t *h, const exports_t *src, char *why, size_t why_len) {
  if (h->attached) return true;
  wasmtime_extern_t item;
  if (!export_get(src, "memory", &item)) {
    snprintf(why, why_len, "the module does not export its memory as \"memory\"");
    return false;
  }
  if (item.kind != WASMTIME_EXTERN_MEMORY) {
    wasmtime_extern_delete(&item);
    snprintf(why, why_len, "the export \"memory\" is not a memory");
    return false;
  }
  wasmtime_memory_t memory = item.of.memory;
  wasmtime_extern_delete(&item);

  wasm_memorytype_t *mt = wasmtime_memory_type(src->cx, &memory);
  bool is64 = wasmtime_memorytype_is64(mt);
  bool shared = wasmtime_memorytype_isshared(mt);
  uint8_t page_log2 = wasmtime_memorytype_page_size_log2(mt);
  uint64_t max_pages = 0;
  bool has_max = wasmtime_memorytype_maximum(mt, &max_pages);
  wasm_memorytype_delete(mt);
  if (shared) {
    snprintf(why, why_len, "the memory is shared: hostalloc serves one thread per heap");
    return false;
  }
  if (page_log2 > 16) {
    snprintf(why, why_len, "the memory's page size 2^%u is above 64 KiB", (unsigned)page_log2);
    return false;
  }
  if (is64 != h->is64) {
    snprintf(why, why_len, "the memory is %s but the host_* imports were defined for %s",
             is64 ? "memory64" : "memory32", h->is64 ? "memory64" : "memory32");
    return false;
  }

  int64_t abi = 0, heap_base = 0, align = 16;
  int kind = global_get(src, "__hostalloc_abi", &abi);
  if (kind != WASMTIME_I32 || abi < HOSTALLOC_WASMTIME_ABI_MIN || abi > HOSTALLOC_ABI_VERSION) {
    if (kind == 0)
      snprintf(why, why_len, "not a wasm-hostalloc module: no __hostalloc_abi export");
    else
      snprintf(why, why_len, "__hostalloc_abi is %lld; this host speaks %d to %d", (long long)abi,
               HOSTALLOC_WASMTIME_ABI_MIN, HOSTALLOC_ABI_VERSION);
    return false;
  }
  kind = global_get(src, "__heap_base", &heap_base);
  if (kind != (is64 ? WASMTIME_I64 : WASMTIME_I32)) {
    snprintf(why, why_len, "__heap_base is %s, the memory needs an immutable %s global",
             kind == 0 ? "missing" : "of the wrong type", is64 ? "i64" : "i32");
    return false;
  }
  uint64_t base = is64 ? (uint64_t)heap_base : (uint64_t)(uint32_t)heap_base;
  kind = global_get(src, "__hostalloc_align", &align);
  if (kind != 0 && (kind != WASMTIME_I32 || (align != 8 && align != 16))) {
    snprintf(why, why_len, "__hostalloc_align must be an i32 global of 8 or 16");
    return false;
  }

  h->cx = src->cx;
  h->memory = memory;
  h->page_log2 = page_log2;
  hostalloc_memory_ops ops;
  memset(&ops, 0, sizeof ops);
  ops.ctx = h;
  ops.base = mem_base;
  ops.size = mem_size;
  ops.grow = mem_grow;
  ops.max_size = 0; /* memory32: 4 GiB */
  if (has_max && max_pages <= (UINT64_MAX >> page_log2)) ops.max_size = max_pages << page_log2;
  else if (is64) ops.max_size = (uint64_t)1 << 48;
  hostalloc_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.ops = ops;
  cfg.heap_base = base;
  cfg.granule = (uint32_t)align; /* 8 for Emscripten modules, else 16; pages: 64 KiB (mem_grow) */
  cfg.on_error = on_heap_error;
  cfg.error_ctx = h;
  hostalloc_t *heap = NULL;
  int rc = hostalloc_create2(&cfg, &heap);
  if (rc != 0) {
    snprintf(why, why_len, "cannot create the heap (__heap_base %llu, memory size %llu, granule %u): %s",
             (unsigned long long)base, (unsigned long long)mem_size(h), (unsigned)align,
             hostalloc_strerror(rc));
    return false;
  }
  h->heap = heap;
  h->abi = (int32_t)abi;
  h->align = (uint32_t)align;
  h->heap_base = base;
  h->attached = true;
  return true;
}

wasmtime_error_t *hostalloc_wasmtime_attach(hostalloc_wasmtime_t *h, wasmtime_context_t *cx,
                                            const wasmtime_instance_t *instance) {
  char why[192];
  exports_t src = {cx, instance, NULL};
  if (attach_from(h, &src, why, sizeof why)) return NULL;
  return wasmtime_error_new(why);
}

/* ------------------------------------------------------------------ the imports */

static uint64_t arg(const hostalloc_wasmtime_t *h, const wasmtime_val_t *args, size_t i) {
  return h->is64 ? (uint64_t)args[i].of.i64 : (uint64_t)(uint32_t)args[i].of.i32;
}

static void result(const hostalloc_wasmtime_t *h, wasmtime_val_t *results, uint64_t v) {
  if (h->is64) {
    results[0].kind = WASMTIME_I64;
    results[0].of.i64 = (int64_t)v;
  } else {
    results[0].kind = WASMTIME_I32;
    results[0].of.i32 = (int32_t)(uint32_t)v;
  }
}

static wasm_trap_t *trap(const char *msg) { return wasmtime_trap_new(msg, strlen(msg)); }

static wasm_trap_t *serve(void *env, wasmtime_caller_t *caller, const wasmtime_val_t *args, size_t nargs,
                          wasmtime_val_t *results, size_t nresults) {
  const struct binding *b = env;
  hostalloc_wasmtime_t *h = b->h;
  if (nargs != OPS[b->op].params || nresults != OPS[b->op].results) return trap("hostalloc: bad arity");
  h->cx = wasmtime_caller_context(caller);
  h->error = 0;
  if (!h->attached) {
    char why[192], msg[256];
    exports_t src = {h->cx, NULL, caller};
    if (!attach_from(h, &src, why, sizeof why)) {
      snprintf(msg, sizeof msg, "%s called before the allocator could attach: %s", OPS[b->op].name, why);
      return trap(msg);
    }
  }
  switch (b->op) {
  case OP_MALLOC:
    result(h, results, hostalloc_malloc(h->heap, arg(h, args, 0)));
    break;
  case OP_FREE:
    hostalloc_free(h->heap, arg(h, args, 0));
    break;
  case OP_CALLOC:
    result(h, results, hostalloc_calloc(h->heap, arg(h, args, 0), arg(h, args, 1)));
    break;
  case OP_REALLOC:
    result(h, results, hostalloc_realloc(h->heap, arg(h, args, 0), arg(h, args, 1)));
    break;
  case OP_ALIGNED_ALLOC:
    result(h, results, hostalloc_aligned_alloc(h->heap, arg(h, args, 0), arg(h, args, 1)));
    break;
  case OP_USABLE_SIZE:
    result(h, results, hostalloc_usable_size(h->heap, arg(h, args, 0)));
    break;
  case OP_COUNT:
    break;
  }
  /* Invalid, interior and double frees: hostalloc changed nothing; the guest stops here. */
  if (h->error) return trap(h->error_text);
  return NULL;
}

/* The pointer type `module` imports host_malloc with: true for i64. */
static bool imports_i64(const wasmtime_module_t *module, const char *import_module) {
  bool is64 = false;
  wasm_importtype_vec_t imports;
  wasmtime_module_imports(module, &imports);
  for (size_t i = 0; i < imports.size; i++) {
    const wasm_name_t *m = wasm_importtype_module(imports.data[i]);
    const wasm_name_t *n = wasm_importtype_name(imports.data[i]);
    if (m->size != strlen(import_module) || memcmp(m->data, import_module, m->size) != 0) continue;
    if (n->size != strlen("host_malloc") || memcmp(n->data, "host_malloc", n->size) != 0) continue;
    const wasm_functype_t *ft = wasm_externtype_as_functype_const(wasm_importtype_type(imports.data[i]));
    if (!ft) continue;
    const wasm_valtype_vec_t *params = wasm_functype_params(ft);
    is64 = params->size == 1 && wasm_valtype_kind(params->data[0]) == WASM_I64;
  }
  wasm_importtype_vec_delete(&imports);
  return is64;
}

wasmtime_error_t *hostalloc_wasmtime_define(hostalloc_wasmtime_t *h, wasmtime_linker_t *linker,
                                            const wasmtime_module_t *module, const char *import_module) {
  if (!import_module) import_module = "env";
  h->is64 = module ? imports_i64(module, import_module) : false;
  for (int i = 0; i < OP_COUNT; i++) {
    wasm_valtype_t *p[2], *r[1];
    for (size_t k = 0; k < OPS[i].params; k++) p[k] = h->is64 ? wasm_valtype_new_i64() : wasm_valtype_new_i32();
    for (size_t k = 0; k < OPS[i].results; k++) r[k] = h->is64 ? wasm_valtype_new_i64() : wasm_valtype_new_i32();
    wasm_valtype_vec_t params, results;
    wasm_valtype_vec_new(&params, OPS[i].params, p);
    if (OPS[i].results) wasm_valtype_vec_new(&results, OPS[i].results, r);
    else wasm_valtype_vec_new_empty(&results);
    wasm_functype_t *ty = wasm_functype_new(&params, &results); /* takes both vectors */
    wasmtime_error_t *err =
        wasmtime_linker_define_func(linker, import_module, strlen(import_module), OPS[i].name,
                                    strlen(OPS[i].name), ty, serve, &h->bindings[i], NULL);
    wasm_functype_delete(ty);
    if (err) return err;
  }
  return NULL;
}

/* ------------------------------------------------------------------ the rest of the API */

hostalloc_wasmtime_t *hostalloc_wasmtime_new(void) {
  hostalloc_wasmtime_t *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  for (int i = 0; i < OP_COUNT; i++) {
    h->bindings[i].h = h;
    h->bindings[i].op = (enum op)i;
  }
  h->page_log2 = 16;
  return h;
}

void hostalloc_wasmtime_delete(hostalloc_wasmtime_t *h) {
  if (!h) return;
  hostalloc_destroy(h->heap);
  free(h);
}

bool hostalloc_wasmtime_attached(const hostalloc_wasmtime_t *h) { return h->attached; }

hostalloc_t *hostalloc_wasmtime_heap(hostalloc_wasmtime_t *h, wasmtime_context_t *cx) {
  if (!h->attached) return NULL;
  h->cx = cx;
  return h->heap;
}

uint8_t *hostalloc_wasmtime_data(hostalloc_wasmtime_t *h, wasmtime_context_t *cx) {
  if (!h->attached) return NULL;
  h->cx = cx;
  return wasmtime_memory_data(cx, &h->memory);
}

uint64_t hostalloc_wasmtime_heap_base(const hostalloc_wasmtime_t *h) { return h->heap_base; }

int32_t hostalloc_wasmtime_abi(const hostalloc_wasmtime_t *h) { return h->abi; }

uint32_t hostalloc_wasmtime_align(const hostalloc_wasmtime_t *h) { return h->align; }
