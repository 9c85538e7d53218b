// The core addon's STREAM triad on fresh arrays has an async pair, as the
// lattice's memoryTriad has: streamTriadAsync measures on a libuv thread and
// resolves with what streamTriad returns, while the event loop goes on (the
// benches `kernels` and `evolve` probe with it).
import { describe, expect, it } from 'vitest';
import { coreAddon } from '../dist/native/loader.js';

/** 64 KiB a array, 2 threads: each pass is quick, so many of them keep the worker busy for many turns of the loop. */
const BYTES_PER_ARRAY = 64 * 1024;
const THREADS = 2;

describe('streamTriadAsync', () => {
  it('resolves with the fields streamTriad returns, and the event loop turns before it settles', async () => {
    const sync = coreAddon().streamTriad(BYTES_PER_ARRAY, 3, THREADS);
    const settled: string[] = [];
    // Queued in the same turn as the triad: it runs at that turn's check phase, long before 4096 passes end.
    const turned = new Promise<void>((resolve) => setImmediate(resolve)).then(() => settled.push('event loop'));
    const measuring = coreAddon()
      .streamTriadAsync(BYTES_PER_ARRAY, 4096, THREADS)
      .then((triad) => {
        settled.push('triad');
        return triad;
      });
    const [triad] = await Promise.all([measuring, turned]);
    expect(settled).toEqual(['event loop', 'triad']);
    expect(Object.keys(triad).sort()).toEqual(Object.keys(sync).sort());
    expect(triad.bytesPerArray).toBe(sync.bytesPerArray);
    expect(triad.bytesPerArray).toBe(BYTES_PER_ARRAY);
    expect(triad.threads).toBe(THREADS);
    expect(Number.isFinite(triad.gbPerSecond) && triad.gbPerSecond > 0).toBe(true);
  });

  it('refuses a bad argument before anything runs, naming it', () => {
    expect(() => coreAddon().streamTriadAsync(4, 3, THREADS)).toThrow('bytesPerArray must be an integer in [8, 9007199254740992], got 4');
    expect(() => coreAddon().streamTriadAsync(BYTES_PER_ARRAY, 0, THREADS)).toThrow('repetitions must be an integer in [1, 4294967295], got 0');
    expect(() => coreAddon().streamTriadAsync(BYTES_PER_ARRAY, 3, 0)).toThrow('threads must be an integer in [1, 4096], got 0');
  });

  it("rejects with the measurement's own error, as streamTriad throws it", async () => {
    // One double for two threads: the core refuses it on the worker thread.
    const message = 'stream_triad needs threads >= 1, repetitions >= 1 and at least one double per thread';
    expect(() => coreAddon().streamTriad(8, 3, 2)).toThrow(message);
    await expect(coreAddon().streamTriadAsync(8, 3, 2)).rejects.toThrow(message);
  });
});
