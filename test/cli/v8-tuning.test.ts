/**
 * @fileoverview The CLI's V8 flags (src/cli/v8-tuning.ts): all of them by default, none that the
 * user already gave node, whichever spelling was used. Their effect is measured by `npm run bench`.
 */

import { describe, expect, it } from 'vitest';
import { CLI_V8_FLAGS, flagsToSet } from '../../src/cli/v8-tuning.js';

describe('flagsToSet', () => {
  it('sets every flag when node was started without any', () => {
    expect(flagsToSet([], undefined)).toEqual([...CLI_V8_FLAGS]);
    expect(flagsToSet(['--enable-source-maps'], '')).toEqual([...CLI_V8_FLAGS]);
  });

  it('leaves out the flags the user gave, in execArgv or NODE_OPTIONS, in either spelling', () => {
    expect(flagsToSet(['--interrupt-budget=67584'], undefined)).toEqual([
      '--max-inlined-bytecode-size-cumulative=200',
      '--wasm-tiering-budget=400000000',
    ]);
    expect(flagsToSet(['--interrupt_budget', '1000'], '--wasm_tiering_budget=5')).toEqual([
      '--max-inlined-bytecode-size-cumulative=200',
    ]);
    expect(flagsToSet([], '--max-old-space-size=100  --max-inlined-bytecode-size-cumulative=920')).toEqual([
      '--interrupt-budget=300000',
      '--wasm-tiering-budget=400000000',
    ]);
  });

  it('does not take a value or a similar longer name for a flag', () => {
    expect(flagsToSet(['--max-inlined-bytecode-size=100', '300000'], undefined)).toEqual([...CLI_V8_FLAGS]);
  });
});
