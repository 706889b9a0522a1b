// Item 3 (output size) and the transformed benchmark plugin, in one process (binaryen loads once).
//   node bench/lib/sizes.mjs <outDir> <label>=<in.wasm> ...
// Transforms each input with default options, writes <outDir>/<label>.wasm, prints sizes.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DIST, emit } from './common.mjs';

const [outDir, ...pairs] = process.argv.slice(2);
const { transform } = await import(pathToFileURL(join(DIST, 'src/index.js')).href);
const rows = [];
for (const pair of pairs) {
  const eq = pair.indexOf('=');
  const label = pair.slice(0, eq);
  const file = pair.slice(eq + 1);
  const input = new Uint8Array(readFileSync(file));
  const { bytes, report } = await transform(input);
  const out = join(outDir, `${label}.wasm`);
  writeFileSync(out, bytes);
  rows.push({
    label,
    file,
    out,
    inputBytes: input.length,
    outputBytes: bytes.length,
    imports: report.imports,
  });
}
emit(rows);
