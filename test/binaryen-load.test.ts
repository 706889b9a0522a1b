/**
 * @fileoverview How binaryen.js is imported (src/binaryen/load.ts): the source surgery on made-up
 * sources, and on the installed binaryen.js a light copy that decodes the same binary and behaves
 * like binaryen.js as it is.
 */

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  binaryFromLiteral,
  decodeLiteralBody,
  lightSource,
  presizeTableCache,
} from '../src/binaryen/load.js';
import { ensureBuilt, ROOT } from './cli/helpers.js';

const URL_LITERAL = 'file:///x/binaryen/index.js';

/** A source shaped like binaryen.js: code, the decoding call on the binary, code using import.meta.url. */
function source(binary: string, after = ')', instantiate = 'WebAssembly.instantiate(b)'): Uint8Array {
  return Buffer.from(
    `async function f(){var u=import.meta.url;var b=d(\`\\0asm${binary}\`${after};${instantiate};return \`\${u}\`}\nexport default await f();\n`,
  );
}

describe('lightSource', () => {
  it('empties the literal holding the binary, keeps it apart, and replaces import.meta.url', () => {
    // Escaped backticks (also after an escaped backslash) do not end the literal.
    const binary = '\\x01\\`a\\\\\\`b\\${c';
    const out = lightSource(source(binary), URL_LITERAL);
    expect(out?.glue).toBe(
      `async function f(){var u="${URL_LITERAL}";var b=d(\`\`);WebAssembly.instantiate(b);return \`\${u}\`}\nexport default await f();\n\n//# sourceURL=${URL_LITERAL}\n`,
    );
    expect(out?.literal()).toBe(`\`\\0asm${binary}\``);
  });

  it('a backtick after an even run of backslashes ends the literal', () => {
    const out = lightSource(source('\\x01\\\\'), URL_LITERAL);
    expect(out?.glue).toContain('var b=d(``);WebAssembly.instantiate(b);return');
    expect(out?.literal()).toBe('`\\0asm\\x01\\\\`');
  });

  it('refuses sources of another shape', () => {
    expect(lightSource(Buffer.from('export default 1;'), URL_LITERAL)).toBeUndefined();
    // Two binaries: which one is binaryen's is not known.
    const two = Buffer.concat([source('\\x01'), Buffer.from('d(`\\0asm\\x02`);')]);
    expect(lightSource(two, URL_LITERAL)).toBeUndefined();
    // The literal is not the call's only argument.
    expect(lightSource(source('\\x01', ',1)'), URL_LITERAL)).toBeUndefined();
    // A substitution inside the literal.
    expect(lightSource(source('\\x01\u0024{x}'), URL_LITERAL)).toBeUndefined();
    // No closing backtick.
    expect(lightSource(Buffer.from('d(`\\0asm\\x01'), URL_LITERAL)).toBeUndefined();
    // The glue compiles its module some other way, or more than once.
    expect(lightSource(source('', ')', 'WebAssembly.instantiateStreaming(b)'), URL_LITERAL)).toBeUndefined();
    expect(
      lightSource(source('', ')', 'WebAssembly.instantiate(b);new WebAssembly.Module(b)'), URL_LITERAL),
    ).toBeUndefined();
    // Another use of import.meta than its url.
    const meta = Buffer.from(`${Buffer.from(source('')).toString()}import.meta.dirname;`);
    expect(lightSource(meta, URL_LITERAL)).toBeUndefined();
  });
});

describe('decodeLiteralBody', () => {
  /** What V8 makes of the template literal with this body. */
  const v8 = async (body: string): Promise<number[]> => [...(await binaryFromLiteral(`\`${body}\``))];

  it('decodes the escapes binaryen.js uses as V8 does', async () => {
    const body = '\\0asm\\x01\\xfF\\0a\\b\\f\\n\\r\\t\\v\\\\\\`\\$\\\'\\"raw\ttab\nline\\\ncontinued$ {}';
    const out = decodeLiteralBody(Buffer.from(body, 'latin1'));
    expect(out).toBeDefined();
    expect([...out!]).toEqual(await v8(body));
  });

  it('leaves anything else to V8', async () => {
    for (const body of ['\\u0041', '\\u{41}', '\\a', '\\x4', '\\xg0', 'a\rb', '\u00e9', '\\\r\n']) {
      expect(decodeLiteralBody(Buffer.from(body, 'utf8')), body).toBeUndefined();
    }
    // Not a template literal's body at all: an unescaped backtick or substitution, \0 before a digit.
    for (const body of ['a`b', 'a\u0024{b}', '\\01']) {
      expect(decodeLiteralBody(Buffer.from(body, 'latin1')), body).toBeUndefined();
    }
  });
});

describe('presizeTableCache', () => {
  const GLUE =
    'var P=1,JA=[],l=r=>{var G=JA[r];return G||(JA[r]=G=K6.get(r)),G},q;function i(j){sA=j.za,K6=j.UB,WA(),jA}';

  it('creates the cache at the table’s length right after the table is assigned', () => {
    expect(presizeTableCache(GLUE)).toBe(
      'var P=1,JA=[],l=r=>{var G=JA[r];return G||(JA[r]=G=K6.get(r)),G},q;function i(j){sA=j.za,K6=j.UB,JA=Array(K6.length).fill(null),WA(),jA}',
    );
  });

  it('leaves a glue of another shape alone', () => {
    expect(presizeTableCache('var JA=[];')).toBeUndefined();
    // The cache declared twice, or the table assigned twice.
    expect(presizeTableCache(`${GLUE};function k(){x=1,JA=[],y=2}`)).toBeUndefined();
    expect(presizeTableCache(`${GLUE};function k(){x=1,K6=j.VB,y=2}`)).toBeUndefined();
  });
});

describe('the installed binaryen.js', () => {
  beforeAll(ensureBuilt);
  const file = createRequire(import.meta.url).resolve('binaryen');

  it('has a light copy, a small fraction of it, with the table cache pre-sized', async () => {
    const full = readFileSync(file);
    const light = lightSource(full, 'file:///binaryen.js');
    expect(light).toBeDefined();
    expect(light!.glue.length).toBeLessThan(full.length / 20);
    expect(light!.glue).toMatch(/,[\w$]+=Array\([\w$]+\.length\)\.fill\(null\),/);
    const binary = await binaryFromLiteral(light!.literal());
    expect([...binary.subarray(0, 8)]).toEqual([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    // The project's own decoder handles binaryen.js's literal, to the same bytes.
    const decoded = decodeLiteralBody(light!.body());
    expect(decoded).toBeDefined();
    expect(Buffer.from(decoded!).equals(Buffer.from(binary))).toBe(true);
  });

  it('the light copy instantiates the binary binaryen.js decodes, and reads and prints alike', () => {
    // In a child process: the light copy is imported from a data: URL, which the test runner's own
    // module loader does not take.
    const script = `
      import { importBinaryen } from ${JSON.stringify(path.join(ROOT, 'dist/src/binaryen/load.js'))};
      const wasm = globalThis.WebAssembly;
      const instantiate = wasm.instantiate;
      const compile = wasm.compile;
      let decoded;
      wasm.compile = async (bytes) => { decoded = Buffer.from(bytes); return compile.call(wasm, bytes); };
      const light = await importBinaryen();
      wasm.compile = compile;
      let stock;
      wasm.instantiate = async (source, imports) => { stock = Buffer.from(source); return instantiate.call(wasm, source, imports); };
      const full = (await import('binaryen')).default;
      wasm.instantiate = instantiate;
      const text = '(module (memory 1) (func $f (export "f") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1))))';
      const print = (b) => { const m = b.parseText(text); const bytes = m.emitBinary(); m.dispose();
        const r = b.readBinary(bytes); const out = r.emitText(); r.dispose(); return out; };
      const b = light.namespace.default;
      if (!light.light || light.given || b === full) throw new Error('not the light copy');
      process.stdout.write(JSON.stringify({ same: decoded.equals(stock), size: stock.length, out: [print(full), print(b)] }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout) as { same: boolean; size: number; out: [string, string] };
    expect(result.size).toBeGreaterThan(1_000_000);
    expect(result.same).toBe(true);
    expect(result.out[0]).toContain('i32.add');
    expect(result.out[1]).toBe(result.out[0]);
  });

  it('compileBinaryen hands another import the module and the light copy it made', () => {
    // A batch's main thread compiles; a worker imports the URL it is given (marked here, to tell it
    // from a light copy made again) and instantiates the module given.
    const script = `
      import { compileBinaryen, importBinaryen } from ${JSON.stringify(path.join(ROOT, 'dist/src/binaryen/load.js'))};
      const compiled = await compileBinaryen();
      const [head, data] = compiled.lightUrl.split(',');
      const marked = head + ',' + Buffer.from(Buffer.from(data, 'base64').toString('latin1') + ';globalThis.marked = 1;', 'latin1').toString('base64');
      const wasm = globalThis.WebAssembly;
      const compile = wasm.compile;
      let compiles = 0;
      wasm.compile = async (bytes) => { compiles++; return compile.call(wasm, bytes); };
      const imported = await importBinaryen({ module: compiled.module, lightUrl: marked });
      const b = imported.namespace.default;
      const m = b.parseText('(module (func $f (export "f") (result i32) (i32.const 7)))');
      const ok = m.validate();
      m.dispose();
      process.stdout.write(JSON.stringify({ light: imported.light, given: imported.given, marked: globalThis.marked === 1, compiles, ok }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ light: true, given: true, marked: true, compiles: 0, ok: 1 });
  });
});
