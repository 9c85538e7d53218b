/**
 * A second engine adopts the first's improvement end to end, on a private
 * Redis: engine A applies a real faster kernel (its gauntlet, canary and
 * live A/B trial) and the fleet publishes it; engine B receives it as an
 * untrusted candidate, runs its own full local gauntlet and its own live
 * trial, and applies it, confined. A tampered copy on the same stream is
 * refused. The lattices step for real; the live windows report the
 * throughput the test gives each module, so the trials' decisions are the
 * test's and not the machine's load.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Archive } from '../dist/ts/archive/index.js';
import { machineFingerprint } from '../dist/ts/archive/fingerprint.js';
import type { AttemptRecord, MachineFingerprint } from '../dist/ts/archive/types.js';
import type { EngineConfig } from '../dist/ts/engine/config.js';
import { Engine } from '../dist/ts/engine/engine.js';
import type { WindowMeasure } from '../dist/ts/engine/live-changes.js';
import { createEngineLog } from '../dist/ts/engine/log.js';
import { createMainLattice } from '../dist/ts/engine/main-lattice.js';
import { measureSlot } from '../dist/ts/engine/watch.js';
import { EngineFleet } from '../dist/ts/fleet/engine-fleet.js';
import { PrivateRedis } from '../dist/ts/fleet/private-servers.js';
import { improvementFromRecord } from '../dist/ts/fleet/shared-improvement.js';
import { SHARED_GENERATOR } from '../dist/ts/fleet/sharing-generator.js';
import type { Lattice } from '../dist/ts/lattice/lattice.js';
import { FixtureGenerator } from './helpers/fixture-generator.js';
import { engineTestConfig } from './helpers/engine-config.js';
import { until } from './helpers/until.js';

/** Both engines run their whole gauntlet for real: a compile and a sandbox run each, slow on a loaded machine. */
const ADOPTION_TIMEOUT_MS = 600_000;
const POLL_MS = 50;
const FAST_MLUPS = 1000;
const REFERENCE_MLUPS = 100;

const root = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-fleet-adoption-'));
const fixture = (name: string) => readFileSync(path.resolve('tests/fixtures', name), 'utf8');
let server: PrivateRedis;
let fingerprint: MachineFingerprint;
const lattices: Lattice[] = [];

beforeAll(async () => {
  server = await PrivateRedis.start();
  fingerprint = await machineFingerprint();
});

afterAll(async () => {
  for (const lattice of lattices) lattice.close();
  await server.stop();
  rmSync(root, { recursive: true, force: true });
});

function engineConfig(name: string): EngineConfig {
  return engineTestConfig(root, name, {
    watch: { window: '700ms', minSteps: 50 },
    trial: { window: '150ms', minSteps: 20 },
    gauntlet: { benchSteps: 8, benchSamples: 15 },
    fleet: { redis: server.url, share: true },
  });
}

/** Live windows that step the lattice for real and report FAST_MLUPS for any module but the reference. */
function windows(lattice: Lattice): WindowMeasure {
  return async (slot, options) => {
    const window = await measureSlot(lattice, slot, options);
    return { ...window, mlups: lattice.slots()[slot].live.name === 'reference' ? REFERENCE_MLUPS : FAST_MLUPS };
  };
}

interface Member {
  engine: Engine;
  fleet: EngineFleet;
  archive: Archive;
  lattice: Lattice;
}

async function member(name: string, source: string, trusted: boolean): Promise<Member> {
  const config = engineConfig(name);
  const archive = Archive.open(config.archive.path);
  // An engine that takes other engines' kernels runs them confined, which needs the shared state (as `run --redis` sets it up).
  const lattice = createMainLattice(config.lattice, config.seed, !trusted);
  lattices.push(lattice);
  const fleet = await EngineFleet.join(config.fleet, archive, createEngineLog(config.log), fingerprint);
  const engine = new Engine(lattice, config, {
    archive,
    generator: new FixtureGenerator(source),
    autoImprove: false,
    trustGeneratedSources: trusted,
    measureWindow: windows(lattice),
    ...fleet.deps,
  });
  fleet.attach(engine);
  await engine.start();
  return { engine, fleet, archive, lattice };
}

async function leave({ engine, fleet, archive }: Member): Promise<void> {
  await engine.stop();
  await fleet.close();
  archive.close();
}

describe('a fleet shares an improvement end to end', () => {
  it(
    "engine B adopts engine A's applied kernel only after its own gauntlet and live trial, and refuses a tampered copy",
    async () => {
      const a = await member('engine-a', fixture('variants/rows-fast.cpp'), true);
      let appliedByA: AttemptRecord;
      try {
        appliedByA = await a.engine.attemptFinished(await a.engine.attemptImprovement());
        expect(appliedByA.status, appliedByA.reason).toBe('applied');
        await until(() => a.fleet.counts.published === 1, POLL_MS);
        // A copy whose source was swapped after sealing, as a tamperer on the stream would send it.
        const genuine = improvementFromRecord(appliedByA, a.fleet.evaluator.id, fingerprint);
        await a.fleet.exchange!.publishRaw(JSON.stringify({ ...genuine, source: `${genuine.source}\n// and a backdoor\n` }));
      } finally {
        await leave(a);
      }

      const b = await member('engine-b', fixture('variants/reference-copy.cpp'), false);
      try {
        // B's exchange read the stream as it joined: the refusal is in B's log (written synchronously), with its reason.
        await until(() => b.fleet.counts.sharedReceived === 1 && b.fleet.counts.sharedRefused === 1, POLL_MS);
        const refusals = readFileSync(engineConfig('engine-b').log.file, 'utf8')
          .split('\n')
          .filter((line) => line.includes('"fleet-refused"'))
          .map((line) => JSON.parse(line) as { reason: string; engineId: string });
        expect(refusals).toEqual([expect.objectContaining({ engineId: a.fleet.evaluator.id, reason: expect.stringMatching(/^hash: the content hashes to/) })]);
        expect(b.lattice.slots().step.live.name).toBe('reference');

        const adopted = await b.engine.attemptFinished(await b.engine.attemptImprovement());
        expect(adopted.status, adopted.reason).toBe('applied');
        expect(adopted).toMatchObject({ generator: SHARED_GENERATOR, source: appliedByA.source, genome: null });
        // B's own gauntlet: every gate ran here and passed, whatever A's evidence said.
        expect(adopted.gates.length).toBeGreaterThanOrEqual(appliedByA.gates.length);
        expect(adopted.gates.every((gate) => gate.passed)).toBe(true);
        expect(adopted.reason).toMatch(/won its A\/B trial/);
        expect(b.lattice.slots().step.live.name).not.toBe('reference');
        expect(b.fleet.counts).toMatchObject({ sharedReceived: 1, sharedRefused: 1, sharedAdopted: 1, sharedNotAdopted: 0 });
        expect(b.archive.ledger.entries().filter((entry) => entry.action === 'apply')).toEqual([
          expect.objectContaining({ attemptId: adopted.id, moduleSha256: adopted.moduleSha256 }),
        ]);
      } finally {
        await leave(b);
      }
    },
    ADOPTION_TIMEOUT_MS,
  );
});
