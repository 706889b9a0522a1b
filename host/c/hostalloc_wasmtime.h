/*
 * hostalloc_wasmtime — serve a wasm-hostalloc module's heap from host/c/hostalloc.c in Wasmtime.
 *
 * Part of wasm-hostalloc. A converted module (docs/abi.md) imports env.host_malloc, host_free,
 * host_calloc, host_realloc, host_aligned_alloc and host_usable_size, and exports `memory`,
 * `__heap_base`, `__hostalloc_abi` (1 or 2) and, from ABI 2, `__hostalloc_grow` and
 * `__hostalloc_align`. This adapter, over the Wasmtime C API (wasm.h + wasmtime.h):
 *
 *   hostalloc_wasmtime_t *h = hostalloc_wasmtime_new();
 *   err = hostalloc_wasmtime_define(h, linker, module, NULL);   // the six imports, i32 or i64
 *   err = wasmtime_linker_instantiate(linker, cx, module, &instance, &trap);
 *   err = hostalloc_wasmtime_attach(h, cx, &instance);          // memory, ABI, __heap_base
 *   ... call the module; host_* calls are served by hostalloc ...
 *   hostalloc_wasmtime_delete(h);                               // after the store is gone
 *
 * - Memory32 and memory64: the pointer type of the imports is read from the module's own import
 *   types at define time, and must match the exported memory at attach time.
 * - Misuse traps the guest: an invalid, interior or double free (hostalloc leaves its state
 *   unchanged), or a host_* call that cannot be served (no memory, unknown ABI) returns a
 *   wasmtime_trap_new() carrying the reason, like the JS host which throws.
 * - Lazy attach: a host_* call that arrives before hostalloc_wasmtime_attach (a start function
 *   or constructor allocating during instantiation) attaches through the caller's exports.
 * - Growth goes through wasmtime_memory_grow, converted to the memory's page size (the
 *   custom-page-sizes proposal allows 1-byte pages). Out of memory is not an error: the import
 *   returns 0 and the guest handles NULL.
 * - Every wasmtime_extern_t taken from an export lookup is deleted with wasmtime_extern_delete.
 *
 * One hostalloc_wasmtime_t per instance (per linear memory); not thread-safe, like hostalloc_t.
 * The functions defined on the linker keep a pointer to `h`: delete it only after the linker and
 * every store that instantiated through it.
 */
#ifndef HOSTALLOC_WASMTIME_H
#define HOSTALLOC_WASMTIME_H

#include <stdbool.h>
#include <stdint.h>

#include <wasm.h>
#include <wasmtime.h>

#include "hostalloc.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The oldest `__hostalloc_abi` this adapter accepts (ABI 1 modules lack `__hostalloc_grow`). */
#define HOSTALLOC_WASMTIME_ABI_MIN 1

/** Per-instance state: the memory, the allocator, the error of the current call. */
typedef struct hostalloc_wasmtime hostalloc_wasmtime_t;

/** A new, unattached adapter, or NULL when the host is out of memory. */
hostalloc_wasmtime_t *hostalloc_wasmtime_new(void);

/** Frees the allocator's host metadata and the adapter. NULL is a no-op. */
void hostalloc_wasmtime_delete(hostalloc_wasmtime_t *h);

/**
 * Defines the six `host_*` functions under `import_module` ("env" when NULL) on `linker`.
 * The pointer type (i32, or i64 for memory64) is the one `module` imports `host_malloc` with;
 * a module that imports none of them gets i32. Returns NULL or an error the caller deletes.
 */
wasmtime_error_t *hostalloc_wasmtime_define(hostalloc_wasmtime_t *h, wasmtime_linker_t *linker,
                                            const wasmtime_module_t *module, const char *import_module);

/**
 * Attaches to an instantiated module: its exported `memory`, `__hostalloc_abi` (between
 * HOSTALLOC_WASMTIME_ABI_MIN and HOSTALLOC_ABI_VERSION), `__heap_base` (i32, or i64 for memory64),
 * `__hostalloc_align` when present. Creates the allocator over [__heap_base, memory end).
 * Returns NULL or an error saying what is missing (the adapter stays unattached).
 */
wasmtime_error_t *hostalloc_wasmtime_attach(hostalloc_wasmtime_t *h, wasmtime_context_t *cx,
                                            const wasmtime_instance_t *instance);

/** True once attached (explicitly or lazily). */
bool hostalloc_wasmtime_attached(const hostalloc_wasmtime_t *h);

/**
 * The allocator, for host-side allocations (a buffer passed in, a result freed after reading),
 * with `cx` made the context its memory callbacks use. NULL before attach.
 */
hostalloc_t *hostalloc_wasmtime_heap(hostalloc_wasmtime_t *h, wasmtime_context_t *cx);

/** The memory's current base address (it may move after any call that allocates); NULL before attach. */
uint8_t *hostalloc_wasmtime_data(hostalloc_wasmtime_t *h, wasmtime_context_t *cx);

/** `__heap_base` as read at attach (0 before). */
uint64_t hostalloc_wasmtime_heap_base(const hostalloc_wasmtime_t *h);

/** `__hostalloc_abi` as read at attach (0 before). */
int32_t hostalloc_wasmtime_abi(const hostalloc_wasmtime_t *h);

/**
 * `__hostalloc_align` as read at attach: 8 or 16, the alignment the module's code assumes for
 * malloc results (16 for ABI 1 modules, which do not export it; 0 before attach).
 */
uint32_t hostalloc_wasmtime_align(const hostalloc_wasmtime_t *h);

#ifdef __cplusplus
}
#endif

#endif /* HOSTALLOC_WASMTIME_H */
