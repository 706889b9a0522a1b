/**
 * @fileoverview The CLI's V8 flags (src/cli/v8-tuning.ts): all of them by default, none that the
 * user already gave node, whichever spelling was used, and none on a V8 other than the one they were
 * measured on. Their effect is measured by `npm run bench`.
 */

import { describe, expect, it } from 'vitest';
import { CLI_V8_FLAGS, flagsToSet } from '../../src/cli/v8-tuning.js';

/** Node 20's V8, the one the flags were measured on. */
const V8 = '11.3.244.8-node.38';

describe('flagsToSet', () => {
  it('sets every flag when node was started without any', () => {
    expect(flagsToSet([], undefined, V8)).toEqual([...CLI_V8_FLAGS]);
    expect(flagsToSet(['--enable-source-maps'], '', V8)).toEqual([...CLI_V8_FLAGS]);
  });

  it('leaves out the flags the user gave, in execArgv or NODE_OPTIONS, in either spelling', () => {
    expect(flagsToSet(['--interrupt-budget=67584'], undefined, V8)).toEqual([
      '--max-inlined-bytecode-size-cumulative=200',
      '--wasm-tiering-budget=400000000',
    ]);
    expect(flagsToSet(['--interrupt_budget', '1000'], '--wasm_tiering_budget=5', V8)).toEqual([
      '--max-inlined-bytecode-size-cumulative=200',
    ]);
    expect(
      flagsToSet([], '--max-old-space-size=100  --max-inlined-bytecode-size-cumulative=920', V8),
    ).toEqual(['--interrupt-budget=300000', '--wasm-tiering-budget=400000000']);
  });

  it('sets none on a V8 they were not measured on (it would print "unrecognized flag" for a renamed one)', () => {
    expect(flagsToSet([], undefined, '12.4.254.21-node.33')).toEqual([]);
    expect(flagsToSet([], undefined, '10.2.154.26-node.36')).toEqual([]);
  });

  it('does not take a value or a similar longer name for a flag', () => {
    expect(flagsToSet(['--max-inlined-bytecode-size=100', '300000'], undefined, V8)).toEqual([
      ...CLI_V8_FLAGS,
    ]);
  });
});
