// Converts every .wasm file of a directory with the wasm-hostalloc library, as a build script would:
//
//   node examples/node/build-plugins.mjs <input-dir> <output-dir>
//
// Modules the library refuses or cannot read (a HostAllocError with a code) are reported and fail the build;
// the others are written to <output-dir> under the same relative path.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isHostAllocError, transform } from 'wasm-hostalloc';

const [inDir, outDir] = process.argv.slice(2);
if (!inDir || !outDir) throw new Error('usage: build-plugins.mjs <input-dir> <output-dir>');

let failed = 0;
const files = (await readdir(inDir, { recursive: true })).filter((f) => f.endsWith('.wasm')).sort();
for (const file of files) {
  try {
    // One file at a time: binaryen.js is loaded once, on the first call, and reused.
    const { bytes, report } = await transform(await readFile(path.join(inDir, file)));
    await mkdir(path.dirname(path.join(outDir, file)), { recursive: true });
    await writeFile(path.join(outDir, file), bytes);
    console.log(`${report.status}: ${file} (${report.inputSize} -> ${report.outputSize} bytes)`);
    for (const w of report.warnings) console.log(`  warning: ${w}`);
  } catch (e) {
    if (!isHostAllocError(e)) throw e; // a bug, not a verdict on the module
    failed++;
    console.log(`not converted: ${file}: ${e.code} ${e.message.split('. ')[0]}`);
  }
}
process.exitCode = failed ? 1 : 0;
