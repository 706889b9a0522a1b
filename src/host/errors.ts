/**
 * @fileoverview Typed errors of the JS host allocator (`wasm-hostalloc/host`).
 *
 * The host allocator has its own code group, `HA1xx`, disjoint from the transformer's `HA0xx` codes in
 * `src/errors.ts`. Codes are stable: tests and hosts match on `code`, never on the message text.
 *
 * | code  | meaning |
 * | ----- | ------- |
 * | HA101 | the heap does not know its memory yet: call `heap.attach(instance)` after instantiation |
 * | HA102 | invalid pointer: not the start of a live allocation (interior or misaligned pointer, garbage) |
 * | HA103 | double free: the pointer points into free heap space (a freed block, possibly merged since) |
 * | HA104 | the pointer lies below the heap base (static data, stack, or null page) |
 * | HA105 | the pointer lies at or beyond the end of the managed heap (end of linear memory) |
 * | HA106 | the module exports `__hostalloc_abi` with a version this host does not speak |
 * | HA107 | no linear memory: the instance exports no `memory` and none was given in the options |
 * | HA108 | no heap base: the instance exports no `__heap_base` and none was given in the options |
 * | HA109 | bad argument from JS: a size, count or alignment that is not a non-negative integer |
 * | HA110 | the heap is already attached to another memory; create one heap per instance |
 * | HA111 | use after free: `usable_size` of a pointer into free heap space (freed, or never allocated) |
 * | HA112 | bad option: `granule` (or the module's `__hostalloc_align`) is not 8 or 16 |
 *
 * A throw inside an import traps the wasm call that made it: the error propagates out of the
 * exported function the host called (that is the intended behaviour for invalid and double frees).
 */

/** Stable error codes of the host allocator. Never renumber; add new codes at the end. */
export const HostAllocatorErrorCodes = {
  /** The heap does not know its memory yet: call `heap.attach(instance)` after instantiation. */
  NOT_ATTACHED: 'HA101',
  /** The pointer is not the start of a live allocation (interior, misaligned or garbage pointer). */
  INVALID_POINTER: 'HA102',
  /** The pointer points into free heap space: a double free (the block may have been merged since). */
  DOUBLE_FREE: 'HA103',
  /** The pointer lies below the heap base. */
  BELOW_HEAP_BASE: 'HA104',
  /** The pointer lies at or beyond the end of the managed heap. */
  BEYOND_HEAP_END: 'HA105',
  /** Unknown `__hostalloc_abi` version. */
  BAD_ABI_VERSION: 'HA106',
  /** No linear memory could be found. */
  NO_MEMORY: 'HA107',
  /** No heap base could be found. */
  NO_HEAP_BASE: 'HA108',
  /** A size, count or alignment passed from JS is not a non-negative integer. */
  BAD_ARGUMENT: 'HA109',
  /** The heap is already attached to another memory. */
  ALREADY_ATTACHED: 'HA110',
  /** `usable_size` of a pointer into free heap space: a use after free (free/realloc say HA103). */
  USE_AFTER_FREE: 'HA111',
  /** The granule (option `granule` or the module's `__hostalloc_align` global) is not 8 or 16. */
  BAD_GRANULE: 'HA112',
} as const;

/** One of the {@link HostAllocatorErrorCodes}. */
export type HostAllocatorErrorCode = (typeof HostAllocatorErrorCodes)[keyof typeof HostAllocatorErrorCodes];

/** An error the host allocator raises on purpose: `code` is stable, `message` says what to do. */
export class HostAllocatorError extends Error {
  override readonly name = 'HostAllocatorError';
  /** Stable code, see {@link HostAllocatorErrorCodes}. */
  readonly code: HostAllocatorErrorCode;
  /** Extra facts (pointer, block offset and size…) for reports. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: HostAllocatorErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

/** True when `e` is a HostAllocatorError (also across realms/workers, where the prototype is lost). */
export function isHostAllocatorError(e: unknown): e is HostAllocatorError {
  return (
    e instanceof HostAllocatorError ||
    (typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'HostAllocatorError')
  );
}
