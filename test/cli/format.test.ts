/**
 * @fileoverview num() groups digits by hand instead of calling toLocaleString (whose first call loads ICU's
 * locale data): it must print exactly what toLocaleString('en-US') prints.
 */
import { describe, expect, it } from 'vitest';
import { num } from '../../src/cli/format.js';

describe('num', () => {
  it('groups digits as en-US does', () => {
    const values = [0, 1, -1, 12, 999, 1000, -1000, 12345, 999_999, 11_371, -65_536, 2 ** 32, 2 ** 53 - 1];
    for (let d = 1; d <= 16; d++) values.push(10 ** d - 1, 10 ** d, -(10 ** d) + 7);
    for (const n of values) expect(num(n), String(n)).toBe(n.toLocaleString('en-US'));
  });

  it('falls back to toLocaleString beyond safe integers', () => {
    expect(num(1.5)).toBe('1.5');
    expect(num(2 ** 60)).toBe((2 ** 60).toLocaleString('en-US'));
  });
});
