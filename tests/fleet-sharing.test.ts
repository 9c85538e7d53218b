/**
 * Improvements shared on a private Redis stream: a second engine receives
 * the first's applied kernel as an untrusted candidate (no genome, so
 * nothing vouches for it by content, and the generator hands it to the
 * attempt runner like any child, to be judged by the full gauntlet and a
 * live trial); a tampered message, one for another machine's fingerprint
 * and one of another schema are refused with the reason named.
 */
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sourceSha256 } from '../ts/archive/canonical-hash.js';
import type { AttemptRecord, MachineFingerprint } from '../ts/archive/types.js';
import { isTrustedSource } from '../ts/engine/trust.js';
import type { GenerationContext, Generator } from '../ts/generators/types.js';
import { canonicalHash } from '../ts/fleet/canonical-json.js';
import { ImprovementExchange, type Refusal } from '../ts/fleet/improvement-exchange.js';
import { PrivateRedis } from '../ts/fleet/private-servers.js';
import { attemptRecord } from './helpers/attempt-record.js';
import { type SharedImprovement, checkImprovement, improvementFromRecord } from '../ts/fleet/shared-improvement.js';
import { SHARED_GENERATOR, SharingGenerator } from '../ts/fleet/sharing-generator.js';
import { fleetStatus } from '../ts/fleet/status.js';
import { testFingerprint } from './helpers/fleet.js';

let server: PrivateRedis;

beforeAll(async () => {
  server = await PrivateRedis.start();
});

afterAll(async () => {
  await server.stop();
});

// An exchange reads the stream from its start (a late engine learns what the fleet found): each test starts from an empty one.
beforeEach(async () => {
  const client = new Redis(server.url);
  await client.flushall();
  client.disconnect();
});

function appliedRecord(id: number, source: string): AttemptRecord {
  return attemptRecord({
    id,
    parentId: 1,
    operator: 'mutate:tile',
    genome: { tile: 64 },
    source,
    sourceSha256: sourceSha256(source),
    moduleSha256: 'a'.repeat(64),
    modulePath: '/tmp/none.so',
    gates: [
      { gate: 'static', passed: true, reason: '', details: {}, seconds: 1 },
      { gate: 'sandbox', passed: true, reason: '', details: {}, seconds: 2 },
    ],
    reason: 'won its trial',
    benchRatio: 0.8,
    liveMlups: 900,
    speedup: 1.4,
    status: 'applied',
    createdAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:01:00.000Z',
  });
}

async function exchange(engineId: string, fingerprint: MachineFingerprint, known: string[] = []): Promise<ImprovementExchange> {
  return ImprovementExchange.connect({ redisUrl: server.url, engineId, fingerprint, knownSource: (sha) => known.includes(sha) });
}

/** A generator that would breed its own child: the test sees when the shared candidate is proposed instead. */
const bred: Generator = {
  name: 'variant',
  candidatesPerAttempt: 8,
  propose: async () => ({ generator: 'variant', operator: 'mutate:unroll', source: 'bred child', genome: { unroll: 2 }, prompt: null, costUsd: 0 }),
};

const context = { slot: 'step' } as GenerationContext;

describe('sharing improvements', () => {
  it("a second engine receives the first's improvement as an untrusted candidate, once", async () => {
    const fingerprint = testFingerprint('share');
    const sender = await exchange('engine-A', fingerprint);
    const receiver = await exchange('engine-B', fingerprint);
    try {
      const received = once(receiver, 'received');
      await sender.publish(appliedRecord(7, 'kernel from A'));
      const [improvement] = (await received) as [SharedImprovement];
      expect(improvement).toMatchObject({ engineId: 'engine-A', attemptId: 7, slot: 'step', evidence: { liveSpeedup: 1.4 } });

      const generator = new SharingGenerator(bred, receiver);
      // One proposal while a shared one waits, so the predictor cannot pass it over for a bred child.
      expect(generator.candidatesPerAttempt).toBe(1);
      const proposal = await generator.propose(context);
      expect(proposal).toEqual({ generator: SHARED_GENERATOR, operator: 'shared:engine-A#7', source: 'kernel from A', genome: null, prompt: null, costUsd: 0 });
      // Untrusted: the whole gauntlet (analysers included) judges it, and a winner runs confined.
      expect(isTrustedSource(proposal.source, proposal.genome)).toBe(false);
      expect((await generator.propose(context)).source).toBe('bred child');
      expect(generator.candidatesPerAttempt).toBe(8);
      expect(sender.counts.received).toBe(0);
    } finally {
      await sender.close();
      await receiver.close();
    }
  });

  it('a source the receiving engine already has is no news', async () => {
    const fingerprint = testFingerprint('known');
    const sender = await exchange('engine-A', fingerprint);
    const receiver = await exchange('engine-B', fingerprint, [sourceSha256('kernel B knows')]);
    try {
      const received = once(receiver, 'received');
      await sender.publish(appliedRecord(8, 'kernel B knows'));
      await sender.publish(appliedRecord(9, 'kernel B lacks'));
      const [improvement] = (await received) as [SharedImprovement];
      expect(improvement.source).toBe('kernel B lacks');
      expect(receiver.counts).toMatchObject({ received: 1, known: 1, refused: 0 });
    } finally {
      await sender.close();
      await receiver.close();
    }
  });

  it('a tampered message, one for another fingerprint and one of another schema are refused with the reason', async () => {
    const fingerprint = testFingerprint('tamper');
    const sender = await exchange('engine-A', fingerprint);
    const receiver = await exchange('engine-B', fingerprint);
    const refusals: Refusal[] = [];
    receiver.on('refused', (refusal: Refusal) => refusals.push(refusal));
    try {
      const genuine = improvementFromRecord(appliedRecord(10, 'kernel genuine'), 'engine-A', fingerprint);
      // The source swapped after sealing: the content no longer hashes to the seal.
      await sender.publishRaw(JSON.stringify({ ...genuine, source: 'kernel with a backdoor' }));
      // Sealed again by the tamperer, but the source's own hash still names the genuine source.
      const { hash: _hash, ...body } = { ...genuine, source: 'kernel with a backdoor' };
      await sender.publishRaw(JSON.stringify({ ...body, hash: canonicalHash(body) }));
      // Genuine, but built and measured on another machine.
      await sender.publishRaw(JSON.stringify(improvementFromRecord(appliedRecord(11, 'kernel elsewhere'), 'engine-C', testFingerprint('another machine'))));
      const future = { ...genuine, schema: 2 };
      await sender.publishRaw(JSON.stringify(future));
      await sender.publishRaw('not json at all');
      const received = once(receiver, 'received');
      await sender.publishRaw(JSON.stringify(genuine));
      await received;
      expect(refusals.map((refusal) => refusal.reason)).toEqual([
        expect.stringMatching(/^hash: the content hashes to [0-9a-f]{12}, the message says/),
        expect.stringMatching(/^hash: the source hashes to [0-9a-f]{12}, the message says/),
        expect.stringMatching(/^fingerprint: built for [0-9a-f]{12} \(another machine\), this engine is/),
        'schema: schema 2 is not 1',
        expect.stringMatching(/^not JSON/),
      ]);
      expect(refusals[0]!.engineId).toBe('engine-A');
      expect(receiver.counts).toMatchObject({ received: 1, refused: 5 });
      expect(receiver.take('step')!.source).toBe('kernel genuine');
      expect(receiver.take('step')).toBeUndefined();

      const status = await fleetStatus(server.url);
      expect(status.recentImprovements[0]).toMatchObject({ engineId: 'engine-A', attemptId: 10, intact: true });
      expect(status.recentImprovements.some((entry) => !entry.intact)).toBe(true);
    } finally {
      await sender.close();
      await receiver.close();
    }
  });

  it('checkImprovement accepts the genuine message and refuses a fingerprint whose hash does not match its fields', () => {
    const fingerprint = testFingerprint('check');
    const genuine = improvementFromRecord(appliedRecord(12, 'kernel checked'), 'engine-A', fingerprint);
    expect(checkImprovement(JSON.stringify(genuine), fingerprint)).toMatchObject({ ok: true });
    const forgedFingerprint = { ...genuine, fingerprint: { ...testFingerprint('old CPU'), hash: fingerprint.hash } };
    const { hash: _hash, ...body } = forgedFingerprint;
    expect(checkImprovement(JSON.stringify({ ...body, hash: canonicalHash(body) }), fingerprint)).toEqual({
      ok: false,
      reason: 'fingerprint: its hash does not match its own fields',
    });
  });
});
