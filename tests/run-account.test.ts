// The run's account of where its time went, on an injected clock.
import { describe, expect, it } from 'vitest';
import { RunAccount, accountText } from '../dist/ts/engine/run-account.js';

describe('RunAccount', () => {
  it('times the warm start, canaries, watch windows, trials and re-verifications on the given clock, and takes the rest as read', () => {
    let nowMs = 1_000;
    const account = new RunAccount(() => nowMs, 1_000);
    nowMs = 3_250;
    account.warmLive();
    nowMs = 9_000;
    // Only the first swap of a warm start counts.
    account.warmLive();
    account.spent('canary', 1_500);
    account.spent('canary', 500);
    account.spent('watch', 4_000);
    account.spent('trial', 2_000);
    const ended = account.reverificationStarted();
    account.bookReverificationCpu(3);
    account.bookReverificationCpu(1.5);
    nowMs = 30_000;
    ended();
    nowMs = 40_000;
    // Ending twice changes nothing.
    ended();
    const report = account.report({ heldSeconds: 1.25, childCpuSeconds: 10, attempts: 2, watchdogSeconds: 0.75 });
    expect(report).toEqual({
      warmLiveAtSeconds: 2.25,
      heldSeconds: 1.25,
      canarySeconds: 2,
      canaries: 2,
      watchSeconds: 4,
      trialSeconds: 2,
      reverification: { wallSeconds: 21, cpuSeconds: 4.5 },
      attempts: 2,
      // The child CPU the re-verification's sandbox runs took is not the attempts'.
      attemptCpuSeconds: 5.5,
      watchdogSeconds: 0.75,
    });
    expect(accountText(report)).toBe(
      'warm start live at 2.3 s; held 1.3 s; 2 canaries 2.0 s; watch windows 4.0 s; trials 2.0 s; re-verification 21.0 s wall, 4.5 s CPU; ' +
        '2 attempts, 5.5 s child CPU; watchdog 0.75 s',
    );
  });

  it('says null where nothing went live and no re-verification ran, and never books a negative or non-finite figure', () => {
    const account = new RunAccount(() => 0, 0);
    account.spent('canary', -5);
    account.spent('watch', Number.NaN);
    account.bookReverificationCpu(-1);
    account.bookReverificationCpu(Number.POSITIVE_INFINITY);
    const report = account.report({ heldSeconds: 0, childCpuSeconds: 2, attempts: 1, watchdogSeconds: 0 });
    expect(report).toMatchObject({ warmLiveAtSeconds: null, canaries: 0, canarySeconds: 0, watchSeconds: 0, reverification: null, attemptCpuSeconds: 2 });
    expect(accountText(report)).toMatch(/^no warm start live; .*; no re-verification; 1 attempt, 2\.0 s child CPU/);
  });
});
