/**
 * @fileoverview wasm-hostalloc's library API. The CLI is a thin shell over these functions; none of
 * them prints or exits, and binaryen.js is only loaded by the first call that needs it.
 */

export { transform } from './transform.js';
export { inspect, type InspectOptions } from './inspect.js';
export { verify } from './verify.js';
export { readGlue, type GlueInfo } from './glue.js';
export { ErrorCodes, HostAllocError, isHostAllocError, type ErrorCode } from './errors.js';
export type * from './types.js';
export { ABI_VERSION } from './types.js';
