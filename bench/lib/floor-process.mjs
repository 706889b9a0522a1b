// Whole-process baseline for the CLI: load binaryen.js, read + validate + emit one module with
// the transform's features, write the bytes.   node bench/lib/floor-process.mjs <in.wasm> <out.wasm>
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DIST } from './common.mjs';

const [input, output] = process.argv.slice(2);
const bmod = await import(pathToFileURL(join(DIST, 'src/binaryen/module.js')).href);
const b = await bmod.loadBinaryen();
const bytes = new Uint8Array(readFileSync(input));
const names = WebAssembly.Module.customSections(new WebAssembly.Module(bytes), 'name').length > 0;
const { result: mod } = bmod.captureOutput(() => b.readBinary(bytes));
try {
  mod.setFeatures(bmod.baseFeatures(b, {}));
  if (!bmod.captureOutput(() => mod.validate()).result) throw new Error('does not validate');
  b.setDebugInfo(names);
  writeFileSync(output, mod.emitBinary());
} finally {
  mod.dispose();
}
