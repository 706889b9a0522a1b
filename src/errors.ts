/**
 * @fileoverview Typed errors. Every problem a user can hit carries a stable code (`HA0xx`) and a
 * message that says what to do about it. Tests and the CLI match on `code`, never on text.
 */

/** Stable error codes. Never renumber; add new codes at the end of their group. */
export const ErrorCodes = {
  /** The input does not start with the WebAssembly magic number. */
  NOT_WASM: 'HA001',
  /** The input is a WebAssembly module but it is cut short or a section is malformed. */
  MALFORMED: 'HA002',
  /** The input is a component (component model), not a core module. */
  COMPONENT: 'HA003',
  /** The module has no linear memory: there is no heap to manage. */
  NO_MEMORY: 'HA004',
  /** The module has more than one memory; which one is the heap is ambiguous. */
  MULTI_MEMORY: 'HA005',
  /** The module uses shared memory (threads) and `allowShared` was not given. */
  SHARED_MEMORY: 'HA006',
  /** malloc or free could not be found. */
  ALLOCATOR_NOT_FOUND: 'HA010',
  /** A reachable allocator-family member (realloc, calloc, …) could not be identified. */
  FAMILY_INCOMPLETE: 'HA011',
  /** A family member has a signature the host ABI cannot serve. */
  BAD_SIGNATURE: 'HA012',
  /** After the rewrite, user code still reads or writes the old allocator's state (inlined allocator code). */
  UNSAFE_RESIDUE: 'HA020',
  /** After the rewrite, the module still calls memory.grow. */
  STRAY_MEMORY_GROW: 'HA021',
  /** The module's allocator is a garbage collector (AssemblyScript, TinyGo, WasmGC). */
  GC_RUNTIME: 'HA022',
  /** The heap base could not be derived from the module's layout. */
  NO_HEAP_BASE: 'HA023',
  /**
   * Surviving code reads the old allocator's in-band metadata (a chunk header below a block) in a
   * way that cannot be rewritten into a host call.
   */
  METADATA_READ: 'HA024',
  /** An option value is invalid (unknown role, unknown export, bad module name…). */
  BAD_OPTION: 'HA030',
  /** The Emscripten JS glue could not be read. */
  BAD_GLUE: 'HA031',
  /** A configured limit (input size, function count…) was exceeded. */
  LIMIT_EXCEEDED: 'HA032',
  /** A file took longer, or needed more memory, than the CLI's per-file limit (--time-limit, --memory-limit). */
  RESOURCE_LIMIT: 'HA033',
  /** binaryen rejected our own output: a bug in wasm-hostalloc, please report it. */
  INTERNAL: 'HA040',
  /** A file could not be read or written (CLI). */
  IO: 'HA050',
  /** The module is not compliant with the host-allocator ABI (verify). */
  NOT_COMPLIANT: 'HA060',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** An error wasm-hostalloc raises on purpose: `code` is stable, `message` says what to do. */
export class HostAllocError extends Error {
  override readonly name = 'HostAllocError';
  readonly code: ErrorCode;
  /** Extra facts (function names, offsets…) for JSON reports. */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }
}

/** True when `e` is a HostAllocError (also across worker boundaries, where the prototype is lost). */
export function isHostAllocError(e: unknown): e is HostAllocError {
  return (
    e instanceof HostAllocError ||
    (typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'HostAllocError')
  );
}
