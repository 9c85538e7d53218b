/**
 * The gauntlet's tools (the static analysers, the compiler) are background
 * work: they run at a lower scheduling priority than this process, so that
 * they take little of the cores from the live simulation. Not the lowest:
 * the simulation keeps both cores busy, and at nice 19 a 25-attempt search
 * took 597 s of its 600 s budget.
 *
 * A low priority is not enough for a measurement. On this project's 2-core
 * VM, one busy process at nice 10 made a 2-thread kernel take 22 ms per
 * sample of the sandbox benchmark instead of 12, as slow as a serial one,
 * while a serial kernel barely changed (21 against 21 ms): every benchmark
 * that overlapped a compile ranked parallel kernels as serial ones. So a
 * measurement that needs the cores holds the tools: while any hold is
 * open, every tool process of this process is stopped (SIGSTOP) and it is
 * continued when the last hold is released. A tool process is a descendant
 * of this process running at a nice value above this process's (what
 * inBackground gave it, and what its own children inherit); the sandbox
 * runner and other helpers run at this process's priority and go on (a
 * process already at nice 19 cannot run its tools below itself, and holds
 * then stop nothing). A tool's timeout keeps running while it is stopped:
 * holds last seconds, the timeouts a minute.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

/** How far below this process's priority the tools run: a tenth of a nice-0 thread's share of a contended core. */
export const BACKGROUND_NICE_OFFSET = 10;
/** The lowest priority there is. */
const MAX_NICE = 19;
/**
 * While held, tools started since the last look are found and stopped this
 * often. A look reads every /proc/PID/stat (2.3 ms with 65 processes on
 * this project's VM), so every 10 ms would itself take a fifth of a core
 * from the measurement; a tool that starts meanwhile runs at most this long.
 */
const RESCAN_MS = 100;

/** The nice value the tools get: BACKGROUND_NICE_OFFSET above this process's, at most 19. */
export function backgroundNice(): number {
  return Math.min(MAX_NICE, os.getPriority() + BACKGROUND_NICE_OFFSET);
}

/** Lowers `child` (and what it forks from now on) to backgroundNice(); returns it. */
export function inBackground<T extends ChildProcess>(child: T): T {
  if (child.pid !== undefined) {
    try {
      os.setPriority(child.pid, backgroundNice());
    } catch {
      // It has exited already: nothing left to lower.
    }
  }
  return child;
}

interface ProcessEntry {
  pid: number;
  parent: number;
  nice: number;
}

/** A line of /proc/PID/stat: the name, in parentheses, may hold spaces and parentheses itself. */
function parseStat(pid: number, text: string): ProcessEntry | null {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After the name: state, ppid, ..., nice is the 17th (field 19 of proc(5)).
  const parent = Number(fields[1]);
  const nice = Number(fields[16]);
  return Number.isInteger(parent) && Number.isInteger(nice) ? { pid, parent, nice } : null;
}

function processTable(): ProcessEntry[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    // No procfs (not Linux): there is nothing to find the tools by, and holds do nothing.
    return [];
  }
  const entries: ProcessEntry[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const entry = parseStat(Number(name), readFileSync(`/proc/${name}/stat`, 'latin1'));
      if (entry !== null) entries.push(entry);
    } catch {
      // It exited between the listing and the read.
    }
  }
  return entries;
}

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ, 100 on every Linux ABI Node runs on). */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU seconds the processes of group `pgid` have used so far, their reaped
 * children included (utime + stime + cutime + cstime); null without procfs.
 */
export function processGroupCpuSeconds(pgid: number): number | null {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return null;
  }
  let ticks = 0;
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'latin1');
      // After the name: state, ppid, pgrp (index 2), ..., utime, stime, cutime, cstime (indices 11-14).
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pgid) continue;
      ticks += [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index] ?? 0), 0);
    } catch {
      // It exited between the listing and the read.
    }
  }
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/** The tool processes running now: descendants of this process niced below it, and everything below those. */
export function toolProcesses(): number[] {
  const own = os.getPriority();
  const children = new Map<number, ProcessEntry[]>();
  for (const entry of processTable()) {
    const siblings = children.get(entry.parent);
    if (siblings) siblings.push(entry);
    else children.set(entry.parent, [entry]);
  }
  const tools: number[] = [];
  const visit = (pid: number, insideTool: boolean) => {
    for (const child of children.get(pid) ?? []) {
      const tool = insideTool || child.nice > own;
      if (tool) tools.push(child.pid);
      visit(child.pid, tool);
    }
  };
  visit(process.pid, false);
  return tools;
}

function signal(pid: number, name: 'SIGSTOP' | 'SIGCONT'): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    // It exited.
    return false;
  }
}

class ToolHold {
  private holds = 0;
  private readonly stopped = new Set<number>();
  private timer: NodeJS.Timeout | null = null;
  private exitHookInstalled = false;

  acquire(): () => void {
    this.holds += 1;
    if (this.holds === 1) this.start();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds -= 1;
      if (this.holds === 0) this.finish();
    };
  }

  private start(): void {
    if (!this.exitHookInstalled) {
      // A tool stopped when this process exits would stay stopped, orphaned.
      process.on('exit', () => this.continueAll());
      this.exitHookInstalled = true;
    }
    this.stopNew();
    this.timer = setInterval(() => this.stopNew(), RESCAN_MS);
    this.timer.unref();
  }

  private finish(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.continueAll();
  }

  private stopNew(): void {
    for (const pid of toolProcesses()) {
      if (!this.stopped.has(pid) && signal(pid, 'SIGSTOP')) this.stopped.add(pid);
    }
  }

  private continueAll(): void {
    for (const pid of this.stopped) signal(pid, 'SIGCONT');
    this.stopped.clear();
  }
}

const toolHold = new ToolHold();

/**
 * Stops the tool processes until the returned function is called (holds
 * nest: the tools go on when the last one is released). Releasing twice is
 * harmless.
 */
export function holdBackgroundTools(): () => void {
  return toolHold.acquire();
}

/** Runs `work` with the tools held, releasing them however it ends. */
export async function withToolsHeld<T>(work: () => Promise<T>): Promise<T> {
  const release = holdBackgroundTools();
  try {
    return await work();
  } finally {
    release();
  }
}
