/**
 * An engine joining a fleet (`run --redis URL` or `[fleet] redis`): remote
 * evaluation through the engine's `evaluate` hook, every worker's pass
 * checked again by the engine before a live trial, and, with fleet.share,
 * the improvements stream: every applied attempt is published, and other
 * engines' improvements reach the engine through its generator as
 * untrusted candidates. What the fleet did is logged and counted.
 */
import type { Archive } from '../archive/archive.js';
import { machineFingerprint } from '../archive/fingerprint.js';
import type { AttemptRecord, MachineFingerprint } from '../archive/types.js';
import type { Engine, EngineDeps } from '../engine/engine.js';
import type { EngineLogger } from '../engine/log.js';
import { ImprovementExchange, type Refusal } from './improvement-exchange.js';
import { type Drain, type EvaluationRoute, FleetEvaluator, type ReverificationEvent } from './remote-evaluator.js';
import type { SharedImprovement } from './shared-improvement.js';
import { SHARED_GENERATOR, SharingGenerator } from './sharing-generator.js';

export interface FleetSettings {
  redis: string;
  jobTimeoutMs: number;
  share: boolean;
}

/** What the fleet did for one engine's run. */
export interface FleetCounts {
  remoteEvaluations: number;
  localEvaluations: number;
  /** Workers' passes this engine checked again itself before a live trial, and those it refused. */
  passesReverified: number;
  passesRefused: number;
  published: number;
  /** Other engines' improvements queued as candidates, refused, and adopted (applied here after this engine's own gauntlet and trial). */
  sharedReceived: number;
  sharedRefused: number;
  sharedAdopted: number;
  sharedNotAdopted: number;
}

export class EngineFleet {
  private adopted = 0;
  private notAdopted = 0;

  private constructor(
    readonly evaluator: FleetEvaluator,
    readonly exchange: ImprovementExchange | null,
    private readonly logger: EngineLogger,
  ) {
    evaluator.on('evaluated', (route: EvaluationRoute) => {
      if (!route.remote) logger.info({ event: 'fleet-local-evaluation', jobId: route.jobId, reason: route.reason }, `evaluated locally: ${route.reason}`);
    });
    evaluator.on('reverified', (event: ReverificationEvent) => {
      if (event.refusedAt !== null) {
        logger.warn({ event: 'fleet-pass-refused', ...event }, `refused worker ${event.workerId}'s pass of job ${event.jobId}: ${event.reason}`);
      } else if (event.workerModuleMatches === false) {
        logger.warn(
          { event: 'fleet-module-differs', ...event },
          `worker ${event.workerId}'s build of job ${event.jobId} differs from this engine's; this engine's goes live`,
        );
      }
    });
    evaluator.on('disconnected', () => logger.warn({ event: 'fleet-disconnected' }, "lost the fleet's Redis: evaluating locally until it is back"));
    evaluator.on('reconnected', () => logger.info({ event: 'fleet-reconnected' }, "the fleet's Redis is back"));
    evaluator.on('drained', (drain: Drain) =>
      logger.info(
        { event: 'fleet-drained', removed: drain.removed, left: drain.left },
        `drained ${drain.removed.length} job(s) judged locally during the outage from the queue` +
          (drain.left.length > 0 ? `; ${drain.left.length} a worker had taken are left to finish` : ''),
      ),
    );
    exchange?.on('refused', (refusal: Refusal) =>
      logger.warn(
        { event: 'fleet-refused', ...refusal },
        `refused a shared improvement${refusal.engineId === null ? '' : ` from ${refusal.engineId}`}: ${refusal.reason}`,
      ),
    );
    exchange?.on('received', (improvement: SharedImprovement) =>
      logger.info(
        { event: 'fleet-received', engineId: improvement.engineId, attemptId: improvement.attemptId, slot: improvement.slot },
        `queued ${improvement.engineId}'s attempt ${improvement.attemptId} as an untrusted candidate`,
      ),
    );
  }

  static async join(settings: FleetSettings, archive: Archive, logger: EngineLogger, fingerprint?: MachineFingerprint): Promise<EngineFleet> {
    const own = fingerprint ?? (await machineFingerprint());
    const evaluator = await FleetEvaluator.connect({ redisUrl: settings.redis, fingerprint: own, jobTimeoutMs: settings.jobTimeoutMs });
    const exchange = settings.share
      ? await ImprovementExchange.connect({
          redisUrl: settings.redis,
          engineId: evaluator.id,
          fingerprint: own,
          knownSource: (sha256) => archive.list().some((record) => record.sourceSha256 === sha256),
        })
      : null;
    return new EngineFleet(evaluator, exchange, logger);
  }

  /** What the engine is built with. */
  get deps(): Pick<EngineDeps, 'evaluate' | 'wrapGenerator'> {
    const { exchange } = this;
    return { evaluate: this.evaluator.evaluate, ...(exchange === null ? {} : { wrapGenerator: (generator) => new SharingGenerator(generator, exchange) }) };
  }

  /** Publishes the engine's applied attempts and counts the shared ones it adopted; returns the detach function. */
  attach(engine: Engine): () => void {
    const onFinished = (record: AttemptRecord) => {
      if (record.generator === SHARED_GENERATOR) {
        if (record.status === 'applied') this.adopted += 1;
        else this.notAdopted += 1;
      }
      if (record.status === 'applied' && this.exchange !== null) {
        this.exchange
          .publish(record)
          .catch((error: unknown) =>
            this.logger.warn({ event: 'fleet-publish-failed', id: record.id }, `could not publish attempt ${record.id}: ${(error as Error).message}`),
          );
      }
    };
    engine.on('attempt-finished', onFinished);
    return () => engine.off('attempt-finished', onFinished);
  }

  get counts(): FleetCounts {
    return {
      remoteEvaluations: this.evaluator.counts.remote,
      localEvaluations: this.evaluator.counts.local,
      passesReverified: this.evaluator.counts.reverified,
      passesRefused: this.evaluator.counts.refused,
      published: this.exchange?.counts.published ?? 0,
      sharedReceived: this.exchange?.counts.received ?? 0,
      sharedRefused: this.exchange?.counts.refused ?? 0,
      sharedAdopted: this.adopted,
      sharedNotAdopted: this.notAdopted,
    };
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.evaluator.close(), this.exchange?.close()]);
  }
}
