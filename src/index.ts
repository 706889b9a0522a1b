/**
 * @fileoverview wasm-hostalloc's library API. The CLI is a thin shell over these functions; none of
 * them prints or exits, and binaryen.js is only loaded by the first call that needs it.
 */

export { type ErrorCode, ErrorCodes, HostAllocError, isHostAllocError } from './errors.js';
export { type GlueInfo, readGlue } from './glue.js';
export { type InspectOptions, inspect } from './inspect.js';
export { transform } from './transform/index.js';
export type * from './types.js';
export { ABI_VERSION } from './types.js';
export { verify } from './verify.js';
