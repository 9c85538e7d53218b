import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { backgroundNice, holdBackgroundTools, inBackground, toolProcesses } from '../dist/ts/gauntlet/background.js';
import { measureSlot } from '../dist/ts/engine/watch.js';
import type { Lattice } from '../dist/ts/lattice/lattice.js';
import { until } from './helpers/until.js';

const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

function start(command: string, args: string[], background: boolean): ChildProcess {
  const child = spawn(command, args, { stdio: 'ignore' });
  children.push(child);
  return background ? inBackground(child) : child;
}

/** Whether `pid` is stopped, from its scheduler state in /proc ("T"). */
function stopped(pid: number): boolean {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] === 'T';
}

/** The pids whose parent is `parent`. */
function childrenOf(parent: number): number[] {
  return toolProcesses().filter((pid) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent;
  });
}

describe('background tools', () => {
  it('runs a tool below this process and finds it, and not a child at this process priority', async () => {
    const tool = start('sleep', ['30'], true);
    const helper = start('sleep', ['30'], false);
    expect(os.getPriority(tool.pid!)).toBe(backgroundNice());
    expect(backgroundNice()).toBe(Math.min(19, os.getPriority() + 10));
    expect(toolProcesses()).toContain(tool.pid);
    expect(toolProcesses()).not.toContain(helper.pid);
  });

  it('stops the tools while held, what they fork included, and continues them on release', async () => {
    const tool = start('sh', ['-c', 'sleep 30; true'], true);
    const helper = start('sleep', ['30'], false);
    await until(() => childrenOf(tool.pid!).length === 1);
    const [grandchild] = childrenOf(tool.pid!);

    const release = holdBackgroundTools();
    await until(() => stopped(tool.pid!) && stopped(grandchild!));
    expect(stopped(helper.pid!)).toBe(false);
    release();
    await until(() => !stopped(tool.pid!) && !stopped(grandchild!));
  });

  it('stops a tool started during a hold, and holds nest', async () => {
    const outer = holdBackgroundTools();
    const inner = holdBackgroundTools();
    try {
      const late = start('sleep', ['30'], true);
      await until(() => stopped(late.pid!));
      inner();
      inner();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(stopped(late.pid!)).toBe(true);
      outer();
      await until(() => !stopped(late.pid!));
    } finally {
      inner();
      outer();
    }
  });

  it('holds the tools and the watchdog checks for a live measurement window', async () => {
    const tool = start('sleep', ['30'], true);
    let steps = 0;
    const states: boolean[] = [];
    let checksHeld = 0;
    const checksHeldAtPolls: number[] = [];
    const lattice = {
      cells: 1000,
      profile: () => {
        checksHeldAtPolls.push(checksHeld);
        return { step: { steps, totalNs: steps * 1e6 } };
      },
      holdWatchdogChecks: () => {
        checksHeld += 1;
        return () => (checksHeld -= 1);
      },
    } as unknown as Lattice;
    const window = await measureSlot(lattice, 'step', {
      windowMs: 20,
      minSteps: 3,
      sleep: async (ms) => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        states.push(stopped(tool.pid!));
        steps += 1;
      },
    });
    expect(window.steps).toBeGreaterThanOrEqual(3);
    expect(window.mlups).toBeCloseTo(1, 9);
    // Stopped from the first poll (a signal takes effect a moment after it is sent) to the end of the window.
    expect(states.at(-1)).toBe(true);
    expect(states.slice(states.indexOf(true)).every(Boolean)).toBe(true);
    await until(() => !stopped(tool.pid!));
    expect(checksHeldAtPolls.length).toBeGreaterThanOrEqual(4);
    expect(checksHeldAtPolls.every((held) => held === 1)).toBe(true);
    expect(checksHeld).toBe(0);
  });
});
