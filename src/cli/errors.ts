/**
 * @fileoverview CLI-side errors and their classification. The library throws HostAllocError; the
 * CLI adds UsageError (bad flags: exit status 2) and maps every error to a per-file status.
 */

import { type ErrorCode, ErrorCodes, HostAllocError, isHostAllocError } from '../errors.js';

/** Exit statuses shared by every command. */
export const ExitStatus = {
  /** Every file succeeded (transform) or is compliant (verify). */
  OK: 0,
  /** Some file was refused, failed or is not compliant, or an input could not be read. */
  FAILURE: 1,
  /** The command line (or configuration file) is wrong. */
  USAGE: 2,
} as const;

/** A mistake on the command line or in the configuration file: printed without a stack, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** HA030 for bad option values; undefined for plain argument-parsing mistakes. */
  readonly code: ErrorCode | undefined;
  constructor(message: string, code?: ErrorCode, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** Codes that mean "this module cannot be made safe" rather than "something went wrong". */
const REFUSAL_CODES: ReadonlySet<string> = new Set<string>([
  ErrorCodes.ALLOCATOR_NOT_FOUND,
  ErrorCodes.FAMILY_INCOMPLETE,
  ErrorCodes.BAD_SIGNATURE,
  ErrorCodes.UNSAFE_RESIDUE,
  ErrorCodes.STRAY_MEMORY_GROW,
  ErrorCodes.GC_RUNTIME,
  ErrorCodes.NO_HEAP_BASE,
  ErrorCodes.METADATA_READ,
]);

/** True for HA010–HA024: the module was understood but cannot be transformed safely. */
export function isRefusalCode(code: string | undefined): boolean {
  return code !== undefined && REFUSAL_CODES.has(code);
}

/** A plain, structured-clone-safe description of an error (crosses worker boundaries). */
export interface ErrorInfo {
  /** `HA0xx` for errors wasm-hostalloc raises on purpose; undefined for unexpected ones. */
  code: string | undefined;
  message: string;
  /** Messages of the `cause` chain, outermost first. */
  causes: string[];
  details?: Record<string, unknown>;
  /** Stack of an unexpected error (not a HostAllocError), to help bug reports. */
  stack?: string;
}

function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'object' && e !== null && typeof (e as { message?: unknown }).message === 'string') {
    return (e as { message: string }).message;
  }
  return String(e);
}

/** Flatten any thrown value into an ErrorInfo. */
export function toErrorInfo(e: unknown): ErrorInfo {
  const causes: string[] = [];
  let cause = e instanceof Error ? e.cause : undefined;
  for (let depth = 0; cause !== undefined && depth < 8; depth++) {
    causes.push(messageOf(cause));
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  if (isHostAllocError(e) || e instanceof UsageError) {
    const info: ErrorInfo = { code: (e as { code?: string }).code, message: e.message, causes };
    const details = (e as { details?: Record<string, unknown> }).details;
    if (details !== undefined) info.details = details;
    return info;
  }
  const info: ErrorInfo = { code: undefined, message: messageOf(e), causes };
  if (e instanceof Error && e.stack !== undefined) info.stack = e.stack;
  return info;
}

/** Error for an input or output file operation, with the system error as cause. */
export function ioError(message: string, cause: unknown): HostAllocError {
  return new HostAllocError(ErrorCodes.IO, message, { cause });
}
