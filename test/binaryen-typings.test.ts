/**
 * src/binaryen/module.ts declares the expression classes' getters and setters binaryen.js 132 has
 * (its bundled typings are stale). Every one declared in `ExpressionClasses` must exist on the
 * loaded binaryen, or a pass would fail at run time on the first module that reaches it.
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadBinaryen } from '../src/binaryen/module.js';

/** Class -> method names, as `ExpressionClasses` in module.ts declares them. */
function declared(): Map<string, string[]> {
  const source = readFileSync(new URL('../src/binaryen/module.ts', import.meta.url), 'utf8');
  const start = source.indexOf('export interface ExpressionClasses {');
  const body = source.slice(start, source.indexOf('\n}\n', start));
  const out = new Map<string, string[]>();
  for (const m of body.matchAll(/^ {2}(\w+): \{([^}]*)\}/gm)) {
    // An entry starts the text or follows `;` or a line break; parameter names follow `(` or `,`.
    out.set(
      m[1]!,
      [...m[2]!.matchAll(/(?:^|[;\n])\s*(\w+)\s*[:(]/g)].map((x) => x[1]!),
    );
  }
  return out;
}

describe('binaryen typings', () => {
  it('every getter and setter module.ts declares exists in binaryen.js', async () => {
    const b = (await loadBinaryen()) as unknown as Record<string, Record<string, unknown>>;
    const classes = declared();
    expect(classes.size).toBeGreaterThan(20);
    for (const [cls, methods] of classes) {
      expect(methods.length, cls).toBeGreaterThan(0);
      for (const method of methods) expect(typeof b[cls]?.[method], `${cls}.${method}`).toBe('function');
    }
  });
});
