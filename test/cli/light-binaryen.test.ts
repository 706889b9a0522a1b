/**
 * @fileoverview binaryen.js without its embedded binary (src/cli/light-binaryen.ts): the source
 * surgery on made-up sources, and on the installed binaryen.js a light copy that, given the module
 * the full binaryen.js compiled, behaves like it.
 */

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { binaryenPath, stripEmbeddedBinary } from '../../src/cli/light-binaryen.js';
import { ensureBuilt, ROOT } from './helpers.js';

const URL_LITERAL = 'file:///x/binaryen/index.js';

/** A source shaped like binaryen.js: code, the decoding call on the binary, code using import.meta.url. */
function source(binary: string, after = ')'): Uint8Array {
  return Buffer.from(
    `async function f(){var u=import.meta.url;var b=d(\`\\0asm${binary}\`${after};return \`\${u}\`}\nexport default await f();\n`,
  );
}

describe('stripEmbeddedBinary', () => {
  it('empties the literal holding the binary and replaces import.meta.url by the file URL', () => {
    // Escaped backticks (also after an escaped backslash) do not end the literal.
    const out = stripEmbeddedBinary(source('\\x01\\`a\\\\\\`b\\${c'), URL_LITERAL);
    expect(out).toBe(
      `async function f(){var u="${URL_LITERAL}";var b=d(\`\`);return \`\${u}\`}\nexport default await f();\n`,
    );
  });

  it('a backtick after an even run of backslashes ends the literal', () => {
    const out = stripEmbeddedBinary(source('\\x01\\\\'), URL_LITERAL);
    expect(out).toContain('var b=d(``);return');
  });

  it('refuses sources of another shape', () => {
    expect(stripEmbeddedBinary(Buffer.from('export default 1;'), URL_LITERAL)).toBeUndefined();
    // Two binaries: which one is binaryen's is not known.
    const two = Buffer.concat([source('\\x01'), Buffer.from('d(`\\0asm\\x02`);')]);
    expect(stripEmbeddedBinary(two, URL_LITERAL)).toBeUndefined();
    // The literal is not the call's only argument.
    expect(stripEmbeddedBinary(source('\\x01', ',1)'), URL_LITERAL)).toBeUndefined();
    // A substitution inside the literal.
    expect(stripEmbeddedBinary(source('\\x01\u0024{x}'), URL_LITERAL)).toBeUndefined();
    // No closing backtick.
    expect(stripEmbeddedBinary(Buffer.from('d(`\\0asm\\x01'), URL_LITERAL)).toBeUndefined();
    // Another use of import.meta than its url.
    expect(
      stripEmbeddedBinary(
        Buffer.from(`${Buffer.from(source('')).toString()}import.meta.dirname;`),
        URL_LITERAL,
      ),
    ).toBeUndefined();
  });
});

describe('the installed binaryen.js', () => {
  beforeAll(ensureBuilt);

  it('has a light copy, a small fraction of it', () => {
    const full = readFileSync(binaryenPath());
    const light = stripEmbeddedBinary(full, 'file:///binaryen.js');
    expect(light).toBeDefined();
    expect(light!.length).toBeLessThan(full.length / 20);
  });

  it('the light copy, given the full one’s compiled module, reads and prints a module alike', () => {
    // In a child process: the light copy is imported from a data: URL, which the test runner's own
    // module loader does not take.
    const script = `
      import { lightBinaryenUrl } from ${JSON.stringify(path.join(ROOT, 'dist/src/cli/light-binaryen.js'))};
      const wasm = globalThis.WebAssembly;
      const instantiate = wasm.instantiate;
      let compiled;
      wasm.instantiate = async (source, imports) => {
        if (compiled === undefined) {
          const r = await instantiate.call(wasm, source, imports);
          compiled = r.module;
          return r;
        }
        if (!(source instanceof Uint8Array) || source.length !== 0) throw new Error('the light copy passed a binary');
        return { module: compiled, instance: await instantiate.call(wasm, compiled, imports) };
      };
      const full = (await import('binaryen')).default;
      const light = (await import(await lightBinaryenUrl())).default;
      const text = '(module (memory 1) (func $f (export "f") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1))))';
      const print = (b) => { const m = b.parseText(text); const bytes = m.emitBinary(); m.dispose();
        const r = b.readBinary(bytes); const out = r.emitText(); r.dispose(); return out; };
      if (full === light) throw new Error('the same instance');
      process.stdout.write(JSON.stringify([print(full), print(light)]));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [full, light] = JSON.parse(r.stdout) as [string, string];
    expect(full).toContain('i32.add');
    expect(light).toBe(full);
  });
});
