/**
 * Test helper: the HostAllocError a synchronous call throws. Fails the test when it throws anything
 * else, or nothing.
 */

import { expect } from 'vitest';
import { HostAllocError } from '../src/errors.js';

export function errorOf(fn: () => unknown): HostAllocError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HostAllocError);
    return e as HostAllocError;
  }
  throw new Error('expected a HostAllocError, nothing was thrown');
}

/** Asserts `promise` rejects with a HostAllocError of `code` whose message matches `why`. */
export async function expectRefusal(promise: Promise<unknown>, code: string, why: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected a refusal with ${code}, got ${String(error)}`).toBeInstanceOf(HostAllocError);
  expect((error as HostAllocError).code).toBe(code);
  expect((error as HostAllocError).message).toMatch(why);
}
