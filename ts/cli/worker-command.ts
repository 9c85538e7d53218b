/**
 * `ouroboros worker --redis URL`: a fleet worker. It runs the gauntlet on
 * the jobs of engines of this machine's fingerprint until SIGINT or
 * SIGTERM, then finishes the job in hand and leaves.
 */
import { Command } from 'commander';
import { closeSharedGauntletPool } from '../gauntlet/pool.js';
import { FleetWorker } from '../fleet/worker.js';
import { evaluationQueueName } from '../fleet/keys.js';
import { durationParser } from './parse.js';

const JOB_TIMEOUT_LIMITS_MS = [1_000, 3_600_000] as const;

export function workerCommand(): Command {
  return new Command('worker')
    .description("evaluate candidates for a fleet's engines of this machine's fingerprint (the whole gauntlet per job)")
    .requiredOption('--redis <url>', "the fleet's Redis, e.g. redis://127.0.0.1:6379")
    .option(
      '--job-timeout <duration>',
      "longest evaluation of one delivery of a job (default 10m; match the engines' fleet.jobTimeout)",
      durationParser(...JOB_TIMEOUT_LIMITS_MS),
    )
    .action(async (options: { redis: string; jobTimeout?: number }) => {
      const worker = await FleetWorker.start({ redisUrl: options.redis, ...(options.jobTimeout === undefined ? {} : { jobTimeoutMs: options.jobTimeout }) });
      const say = (line: string) => process.stderr.write(`worker ${worker.id}: ${line}\n`);
      say(`taking jobs from ${evaluationQueueName(worker.fingerprint.hash)} (${worker.fingerprint.cpuModel}, -march=${worker.fingerprint.march})`);
      worker.on('job-started', (jobId: string) => say(`job ${jobId.slice(0, 12)} started`));
      worker.on('job-recorded', ({ jobId, duplicate }: { jobId: string; duplicate: boolean }) =>
        say(`job ${jobId.slice(0, 12)} ${duplicate ? 'was recorded already (a redelivery)' : 'recorded'}`),
      );
      worker.on('job-timeout', (jobId: string) => say(`job ${jobId.slice(0, 12)} ran out of time`));
      worker.on('fleet-error', (error: Error) => say(`Redis: ${error.message}`));
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      say('stopping after the job in hand');
      await worker.close();
      await closeSharedGauntletPool();
    });
}
