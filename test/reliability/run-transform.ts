/**
 * @fileoverview Child-process runner for the hostile-module tests: transforms one file (or, with
 * `--read LIMITS_JSON`, only runs the raw reader with those limits) and prints one JSON line with the
 * outcome, the time taken and the process's peak RSS. Run as
 *   node --experimental-wasm-memory64 --import binaryen --import tsx test/reliability/run-transform.ts FILE [--read '{"maxBytes":1}']
 */

import { readFileSync } from 'node:fs';
import { isHostAllocError, transform, verify } from '../../src/index.js';
import { readModule } from '../../src/wasm/reader.js';
import { WA } from '../harness/wasm.js';

const [file, mode, arg] = process.argv.slice(2);
const bytes = new Uint8Array(readFileSync(file!));
const t0 = performance.now();
const out: Record<string, unknown> = { size: bytes.length, inputValid: WA.validate(bytes) };
try {
  if (mode === '--read') {
    const info = readModule(bytes, JSON.parse(arg ?? '{}') as Record<string, number>);
    out['outcome'] = 'read';
    out['functions'] = info.functionTypes.length;
  } else {
    const r = await transform(bytes);
    out['outcome'] = 'valid';
    out['status'] = r.report.status;
    out['validate'] = WA.validate(r.bytes);
    out['compliant'] = (await verify(r.bytes)).compliant;
  }
} catch (e) {
  if (isHostAllocError(e)) {
    out['outcome'] = 'typed';
    out['code'] = e.code;
  } else {
    out['outcome'] = 'crash';
  }
  out['message'] = e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 500) : String(e);
  out['stack'] = e instanceof Error ? (e.stack ?? '').split('\n').slice(0, 12).join('\n') : '';
}
out['ms'] = Math.round(performance.now() - t0);
out['maxRssMB'] = Math.round(process.resourceUsage().maxRSS / 1024);
process.stdout.write(`${JSON.stringify(out)}\n`);
