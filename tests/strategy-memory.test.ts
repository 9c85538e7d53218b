// Strategy memory: operators that produce winners are weighted up, none
// starves, winners are remembered for the prompt, and the archive rebuilds
// exactly what incremental recording built.
import { describe, expect, it } from 'vitest';
import type { AttemptRecord, AttemptStatus } from '../dist/ts/archive/types.js';
import { describeRecord, outcomeOfRecord, PRIOR_TRIES, StrategyMemory, WEIGHT_CEILING, WEIGHT_FLOOR } from '../dist/ts/engine/strategy-memory.js';
import { seededRandom } from '../dist/ts/util/random.js';
import { attemptRecord } from './helpers/attempt-record.js';

const lost = { passed: true, won: false, speedup: 0.97 };
const failed = { passed: false, won: false, speedup: null };

describe('StrategyMemory weights', () => {
  it('weighs every operator 1 until something has value, and knows no operator it never saw', () => {
    const memory = new StrategyMemory();
    expect(memory.weights('step')).toEqual({});
    memory.record('step', 'mutate:tile', failed);
    memory.record('step', 'crossover', failed);
    expect(memory.weights('step')).toEqual({ 'mutate:tile': 1, crossover: 1 });
  });

  it('moves weight toward the operator that wins, and more so the more it wins', () => {
    const memory = new StrategyMemory();
    const history: number[] = [];
    for (let round = 0; round < 10; round += 1) {
      memory.record('step', 'mutate:tile', { passed: true, won: true, speedup: 1.3 });
      memory.record('step', 'mutate:unroll', lost);
      memory.record('step', 'sample', failed);
      history.push(memory.weights('step')['mutate:tile']!);
    }
    const weights = memory.weights('step');
    expect(weights['mutate:tile']).toBeGreaterThan(1);
    expect(weights['mutate:unroll']).toBeLessThan(1);
    expect(weights['sample']).toBeLessThan(weights['mutate:unroll']!);
    for (let i = 1; i < history.length; i += 1) expect(history[i]).toBeGreaterThanOrEqual(history[i - 1]!);
    // An operator with no value decays as PRIOR_TRIES / (tries + PRIOR_TRIES) of the mean.
    expect(weights['sample']).toBeCloseTo(Math.max(WEIGHT_FLOOR, PRIOR_TRIES / (10 + PRIOR_TRIES)), 12);
  });

  it('keeps the floor and the ceiling however lopsided the record', () => {
    const memory = new StrategyMemory();
    for (let i = 0; i < 500; i += 1) memory.record('step', 'sample', failed);
    for (let i = 0; i < 5; i += 1) memory.record('step', 'llm', { passed: true, won: true, speedup: 3 });
    const weights = memory.weights('step');
    expect(weights['sample']).toBe(WEIGHT_FLOOR);
    expect(weights['llm']).toBe(WEIGHT_CEILING);
    const share = weights['sample']! / (weights['sample']! + weights['llm']!);
    expect(share).toBeGreaterThanOrEqual(WEIGHT_FLOOR / (WEIGHT_FLOOR + WEIGHT_CEILING));
  });

  it('keeps slots apart', () => {
    const memory = new StrategyMemory();
    memory.record('step', 'crossover', { passed: true, won: true, speedup: 2 });
    memory.record('step', 'sample', failed);
    memory.record('readout', 'sample', { passed: true, won: true, speedup: 1.5 });
    memory.record('readout', 'crossover', failed);
    expect(memory.weights('step')['crossover']).toBeGreaterThan(memory.weights('step')['sample']!);
    expect(memory.weights('readout')['sample']).toBeGreaterThan(memory.weights('readout')['crossover']!);
  });

  it('remembers the fastest winners with what they changed', () => {
    const memory = new StrategyMemory();
    memory.record('step', 'mutate:tile', { passed: true, won: true, speedup: 1.4, description: 'tile=64' });
    memory.record('step', 'llm', { passed: true, won: true, speedup: 2.1, description: 'row-wise stencil' });
    memory.record('step', 'crossover', { passed: true, won: true, speedup: 1.1 });
    memory.record('step', 'mutate:unroll', lost);
    expect(memory.winners('step', 2)).toEqual([
      { operator: 'llm', description: 'row-wise stencil', speedup: 2.1 },
      { operator: 'mutate:tile', description: 'tile=64', speedup: 1.4 },
    ]);
    expect(memory.winners('step', 10).map((w) => w.description)).toEqual(['row-wise stencil', 'tile=64', 'crossover']);
    expect(memory.winners('readout', 3)).toEqual([]);
  });
});

let nextId = 1;
function attempt(operator: string, status: AttemptStatus, fields: Partial<AttemptRecord> = {}): AttemptRecord {
  const passedGates = ['patch', 'static', 'compile', 'symbols', 'sandbox', 'dojo', 'bench'] as const;
  const gates =
    status === 'rejected'
      ? [
          { gate: 'patch' as const, passed: true, reason: '', details: {}, seconds: 0 },
          { gate: 'static' as const, passed: false, reason: 'forbidden header', details: {}, seconds: 0 },
        ]
      : status === 'failed' || status === 'pending'
        ? []
        : passedGates.map((gate) => ({ gate, passed: true, reason: '', details: {}, seconds: 0 }));
  return attemptRecord({
    id: nextId++,
    parentId: 1,
    generator: operator === 'llm' ? 'llm' : 'variant',
    operator,
    source: '// a kernel\nint x;',
    sourceSha256: '0'.repeat(64),
    gates,
    failedGate: status === 'rejected' ? 'static' : null,
    status,
    createdAt: '2025-01-01T00:00:00.000Z',
    ...fields,
  });
}

describe('StrategyMemory.fromRecords', () => {
  it('reads outcomes from archived attempts', () => {
    expect(outcomeOfRecord(attempt('sample', 'pending'))).toBeNull();
    expect(outcomeOfRecord(attempt('sample', 'failed'))).toEqual({ passed: false, won: false, speedup: null });
    expect(outcomeOfRecord(attempt('sample', 'rejected'))).toEqual({ passed: false, won: false, speedup: null });
    expect(outcomeOfRecord(attempt('sample', 'passed', { benchRatio: 1.25 }))).toEqual({ passed: true, won: false, speedup: 0.8 });
    expect(outcomeOfRecord(attempt('sample', 'applied', { benchRatio: 0.5 }))).toEqual({ passed: true, won: true, speedup: 2 });
    expect(outcomeOfRecord(attempt('sample', 'superseded', { benchRatio: 0.8 }))?.won).toBe(true);
    expect(outcomeOfRecord(attempt('sample', 'rolled-back', { benchRatio: 0.8 }))).toEqual({ passed: true, won: false, speedup: 1.25 });
  });

  it("describes a change by its genome, else by the kernel's opening comment", () => {
    expect(describeRecord({ operator: 'mutate:tile', genome: { tile: [64, 32], unroll: 4 }, source: '' })).toBe('tile=[64,32] unroll=4');
    const commented = '/* Row-wise stencil:\n * no div/mod. */\nint x;';
    expect(describeRecord({ operator: 'llm', genome: null, source: commented })).toBe('Row-wise stencil: no div/mod.');
    expect(describeRecord({ operator: 'llm', genome: null, source: 'int x;' })).toBe('llm');
  });

  it('rebuilds exactly what incremental recording built', () => {
    const random = seededRandom(11);
    const operators = ['mutate:tile', 'mutate:unroll', 'crossover', 'sample', 'llm'];
    const statuses: AttemptStatus[] = ['rejected', 'failed', 'passed', 'applied', 'superseded', 'rolled-back', 'pending'];
    const records = Array.from({ length: 300 }, () => {
      const operator = operators[Math.floor(random() * operators.length)]!;
      const status = statuses[Math.floor(random() * statuses.length)]!;
      const benchRatio = status === 'rejected' || status === 'failed' || status === 'pending' ? null : 0.5 + random();
      const genome = operator === 'llm' ? null : { tile: Math.floor(random() * 8) * 16, unroll: 1 + Math.floor(random() * 4) };
      return attempt(operator, status, { benchRatio, genome, slot: random() < 0.8 ? 'step' : 'readout' });
    });

    const incremental = new StrategyMemory();
    for (const record of records) {
      const outcome = outcomeOfRecord(record);
      if (outcome !== null) incremental.record(record.slot, record.operator, { ...outcome, description: describeRecord(record) });
    }
    const rebuilt = StrategyMemory.fromRecords([...records].reverse());
    for (const slot of ['step', 'readout'] as const) {
      expect(rebuilt.stats(slot)).toEqual(incremental.stats(slot));
      expect(rebuilt.weights(slot)).toEqual(incremental.weights(slot));
      expect(rebuilt.winners(slot, 10)).toEqual(incremental.winners(slot, 10));
    }
    const tries = Object.values(rebuilt.stats('step')).reduce((sum, stats) => sum + stats.tries, 0);
    expect(tries).toBe(records.filter((r) => r.slot === 'step' && r.status !== 'pending').length);
    expect(rebuilt.winners('step', 1)[0]!.speedup).toBeGreaterThan(1);
  });
});
