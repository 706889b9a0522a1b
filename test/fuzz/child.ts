/**
 * @fileoverview Fuzz worker process: receives jobs over IPC, answers with phases and a verdict. The
 * parent (test/fuzz/campaign.ts) kills and restarts it on a timeout or when it dies (binaryen can
 * abort its whole instance), so one bad input never takes the campaign down.
 */

import { WA } from '../harness/wasm.js';
import { type Job, runJob } from './oracle.js';

const send = (m: unknown) => process.send?.(m);

process.on('message', (job: Job) => {
  void (async () => {
    const inputValid = WA.validate(job.bytes);
    const verdict = await runJob(job, (phase) => send({ type: 'phase', id: job.id, phase }));
    send({ type: 'done', id: job.id, verdict, inputValid });
  })().catch((e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    send({
      type: 'done',
      id: job.id,
      inputValid: false,
      verdict: {
        kind: 'crash',
        reason: 'exception',
        phase: 'transform',
        message: err.message,
        stack: err.stack ?? '',
      },
    });
  });
});
send({ type: 'ready' });
