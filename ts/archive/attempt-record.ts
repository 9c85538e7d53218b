/**
 * An attempt record built outside the archive (a bench's improvement to
 * share, a suite's attempts read without an archive): a passed step attempt
 * of the variant generator with nothing measured or built, `fields` over it.
 */
import type { AttemptRecord } from './types.js';

export function attemptRecord(fields: Partial<AttemptRecord> & Pick<AttemptRecord, 'id'>): AttemptRecord {
  return {
    parentId: null,
    slot: 'step',
    generator: 'variant',
    operator: 'mutate',
    genome: null,
    prompt: null,
    rawReply: null,
    source: '',
    sourceSha256: '',
    moduleSha256: null,
    modulePath: null,
    gates: [],
    failedGate: null,
    reason: '',
    benchmark: null,
    benchRatio: null,
    liveMlups: null,
    speedup: null,
    status: 'passed',
    costUsd: 0,
    createdAt: '',
    finishedAt: null,
    ...fields,
  };
}
