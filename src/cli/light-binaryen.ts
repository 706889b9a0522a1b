/**
 * @fileoverview binaryen.js without the wasm binary it embeds, for a batch worker that already holds
 * binaryen's compiled module (see worker.ts).
 *
 * binaryen.js 132 is 0.2 MB of JavaScript around one 14.6 MB template literal, the wasm binary,
 * passed to a decoding function: `x6(`\0asm…`)`. Parsing and decoding that literal is most of what
 * importing binaryen.js costs (about 0.25 s of 0.3 s of CPU); a worker that instantiates a module
 * compiled by an earlier worker does not need it. It imports the same source with the literal
 * emptied, from a data: URL: binaryen.js then asks `WebAssembly.instantiate` for an empty binary,
 * and the worker's wrapper instantiates the compiled module instead. `import.meta.url`, which
 * binaryen.js uses to create a `require`, is replaced by the real file's URL.
 *
 * When the source does not have that shape (another binaryen.js version), there is no light copy
 * and the worker imports binaryen.js as it is.
 */

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

/** The call that decodes the embedded binary: `(`, the literal's backtick, then `\0asm` escaped. */
const BINARY_START = Buffer.from('(`\\0asm');
const BACKTICK = 0x60;
const BACKSLASH = 0x5c;
const CLOSE_PAREN = 0x29;
const SUBSTITUTION = Buffer.from('${');

/**
 * binaryen.js's source with its embedded binary replaced by an empty template literal, or undefined
 * when the source does not have the expected shape. `source` is the file's bytes, `url` its URL.
 */
export function stripEmbeddedBinary(source: Uint8Array, url: string): string | undefined {
  const buf = Buffer.from(source.buffer, source.byteOffset, source.byteLength);
  const start = buf.indexOf(BINARY_START);
  if (start < 0 || buf.indexOf(BINARY_START, start + 1) >= 0) return undefined;
  const open = start + 1;
  /** Whether the character at `at` is escaped: preceded by an odd run of backslashes. */
  const escaped = (at: number): boolean => {
    let slashes = 0;
    while (buf[at - 1 - slashes] === BACKSLASH) slashes++;
    return slashes % 2 === 1;
  };
  // The closing backtick is the first one not escaped.
  let end = open;
  do {
    end = buf.indexOf(BACKTICK, end + 1);
    if (end < 0) return undefined;
  } while (escaped(end));
  // The literal must be the call's only argument, and hold no substitution.
  if (buf[end + 1] !== CLOSE_PAREN) return undefined;
  for (
    let at = buf.indexOf(SUBSTITUTION, open);
    at >= 0 && at < end;
    at = buf.indexOf(SUBSTITUTION, at + 1)
  ) {
    if (!escaped(at)) return undefined;
  }
  const text = `${buf.toString('utf8', 0, open + 1)}${buf.toString('utf8', end)}`;
  const replaced = text.replaceAll('import.meta.url', JSON.stringify(url));
  if (replaced.includes('import.meta')) return undefined;
  return replaced;
}

/** The installed binaryen.js's file. */
export function binaryenPath(): string {
  return createRequire(import.meta.url).resolve('binaryen');
}

/**
 * A data: URL of the installed binaryen.js without its embedded binary ({@link stripEmbeddedBinary}),
 * or undefined when there is none. Importing it needs `WebAssembly.instantiate` to supply binaryen's
 * compiled module.
 */
export async function lightBinaryenUrl(): Promise<string | undefined> {
  const file = binaryenPath();
  const text = stripEmbeddedBinary(await readFile(file), pathToFileURL(file).href);
  return text === undefined
    ? undefined
    : `data:text/javascript;base64,${Buffer.from(text).toString('base64')}`;
}
