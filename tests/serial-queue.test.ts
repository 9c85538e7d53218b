// The queue that keeps the engine's sandbox runs (and their benchmarks) apart.
import { describe, expect, it } from 'vitest';
import { SerialQueue } from '../dist/ts/gauntlet/serial-queue.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('SerialQueue', () => {
  it('runs one piece of work at a time, in the order queued, and returns each result', async () => {
    const queue = new SerialQueue();
    const log: string[] = [];
    let running = 0;
    let most = 0;
    const work = (name: string) => async () => {
      running += 1;
      most = Math.max(most, running);
      log.push(`start ${name}`);
      await tick();
      log.push(`end ${name}`);
      running -= 1;
      return name;
    };
    const results = await Promise.all(['a', 'b', 'c'].map((name) => queue.run(work(name))));
    expect(results).toEqual(['a', 'b', 'c']);
    expect(most).toBe(1);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('passes a failure to its caller and goes on with the next piece', async () => {
    const queue = new SerialQueue();
    const failed = queue.run(async () => {
      await tick();
      throw new Error('sandbox crashed');
    });
    const next = queue.run(async () => 'ran');
    await expect(failed).rejects.toThrow('sandbox crashed');
    await expect(next).resolves.toBe('ran');
  });
});
