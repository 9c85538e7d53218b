/** `ouroboros fleet status --redis URL`: engines, workers, queue depths and recent shared improvements. */
import { Command } from 'commander';
import { fleetStatus, formatFleetStatus } from '../fleet/status.js';

export function fleetCommand(): Command {
  const fleet = new Command('fleet').description('look at a fleet of engines and workers on Redis');
  fleet
    .command('status')
    .description('list the live engines and workers, queue depths, recorded jobs and recent shared improvements')
    .requiredOption('--redis <url>', "the fleet's Redis, e.g. redis://127.0.0.1:6379")
    .option('--json', 'print one JSON object')
    .action(async (options: { redis: string; json?: boolean }) => {
      const status = await fleetStatus(options.redis);
      console.log(options.json ? JSON.stringify(status) : formatFleetStatus(status));
    });
  return fleet;
}
