/**
 * The gatekeeper binary (crates/gatekeeper, staged by
 * scripts/build-sandbox.mjs): the ELF gate's inspection of a built module,
 * and the confinement every gauntlet tool (g++, clang-tidy, cppcheck) runs
 * under. A candidate's source decides which files these tools open, so each
 * runs with rlimits, in new user/network/IPC namespaces, with no_new_privs
 * and a Landlock domain where only its scratch directory is writable and
 * only the toolchain, the system headers and the kernel ABI headers are
 * readable. The gatekeeper reports what it enforced as the first line of
 * the tool's stderr, which is taken off here.
 */
import { execFile, spawn } from 'node:child_process';
import { stagedNativePath } from '../../native/loader.js';
import { inBackground, processGroupCpuSeconds } from './background.js';

export const GATEKEEPER_NAME = 'ouroboros-gatekeeper';
const REPORT_PREFIX = 'ouroboros-gatekeeper: ';
/** What a tool may print, stdout and stderr together (counted in characters for a confined run), before it is killed. */
const MAX_OUTPUT_BYTES = 8 << 20;

/** What a compile reads: the toolchain, its libraries and the system headers. */
export const TOOLCHAIN_DIRS = ['/usr', '/lib', '/lib64', '/etc/ld.so.cache', '/etc/alternatives'];

/** The staged gatekeeper for this target. */
export function gatekeeperPath(): string {
  return stagedNativePath('sandbox', GATEKEEPER_NAME);
}

/** The layers a confined tool ran under, as the gatekeeper enforced them. */
export interface Confinement {
  rlimits: boolean;
  memoryMiB: number;
  cpuSeconds: number;
  fileMiB: number;
  openFiles: number;
  namespaces: string[];
  noNewPrivs: boolean;
  landlock: 'fully-enforced' | 'partially-enforced' | 'not-enforced' | 'failed';
  landlockAbi: number | null;
  landlockError: string | null;
}

export interface ToolLimits {
  memoryMiB: number;
  cpuSeconds: number;
  fileMiB: number;
}

export interface ConfinedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The tool's stderr, without the gatekeeper's report. */
  stderr: string;
  timedOut: boolean;
  /**
   * When it timed out: the CPU seconds its process group had used by then
   * (null otherwise, or without procfs). Little CPU over a long wall time
   * means it waited for the cores, not that the input made it work.
   */
  cpuSecondsAtTimeout: number | null;
  /** Killed because the caller's signal aborted: the run tells nothing about the source. */
  aborted: boolean;
  /** null when the gatekeeper could not start or report. */
  confinement: Confinement | null;
}

function splitReport(stderr: string): { confinement: Confinement | null; rest: string } {
  if (!stderr.startsWith(REPORT_PREFIX)) return { confinement: null, rest: stderr };
  const end = stderr.indexOf('\n');
  const line = stderr.slice(REPORT_PREFIX.length, end < 0 ? undefined : end);
  try {
    return { confinement: JSON.parse(line) as Confinement, rest: end < 0 ? '' : stderr.slice(end + 1) };
  } catch {
    return { confinement: null, rest: stderr };
  }
}

/** What a run that never started reports. */
const NOT_RUN: Omit<ConfinedRun, 'aborted'> = {
  code: null,
  signal: null,
  stdout: '',
  stderr: '',
  timedOut: false,
  cpuSecondsAtTimeout: null,
  confinement: null,
};

/** Kills a detached child's whole process group (g++ forks cc1plus and as); a group already gone is fine. */
function killGroup(pid: number | undefined): void {
  try {
    if (pid !== undefined) process.kill(-pid, 'SIGKILL');
  } catch {
    // Every process of the group has exited.
  }
}

/**
 * Runs `command args` confined: `read` readable (and the toolchain), only
 * `scratch` writable, with its working directory there. Low priority, like
 * every gauntlet tool (background.ts). The tool runs in a process group of
 * its own, killed whole at the time limit or when `signal` aborts (then
 * `aborted` is true and the result says nothing about the source); being
 * its own group, it does not get the terminal's Ctrl-C, which the engine
 * turns into that abort.
 */
export function runConfined(
  command: string,
  args: string[],
  options: { scratch: string; read: string[]; limits: ToolLimits; timeoutMs: number; signal?: AbortSignal },
): Promise<ConfinedRun> {
  const { limits } = options;
  const plan = [
    'run',
    ...[...TOOLCHAIN_DIRS, ...options.read].flatMap((dir) => ['--read', dir]),
    '--write',
    options.scratch,
    '--memory-mib',
    String(limits.memoryMiB),
    '--cpu-seconds',
    String(limits.cpuSeconds),
    '--file-mib',
    String(limits.fileMiB),
    '--',
    command,
    ...args,
  ];
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin', TMPDIR: options.scratch, LC_ALL: 'C' };
  if (options.signal?.aborted) return Promise.resolve({ ...NOT_RUN, aborted: true });
  return new Promise((resolve) => {
    const child = inBackground(spawn(gatekeeperPath(), plan, { cwd: options.scratch, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] }));
    const output = { stdout: '', stderr: '', chars: 0 };
    let timedOut = false;
    let cpuSecondsAtTimeout: number | null = null;
    let spawnError: string | null = null;
    const kill = () => killGroup(child.pid);
    const collect = (stream: 'stdout' | 'stderr') => (text: string) => {
      output.chars += text.length;
      if (output.chars > MAX_OUTPUT_BYTES) kill();
      else output[stream] += text;
    };
    child.stdout.setEncoding('utf8').on('data', collect('stdout'));
    child.stderr.setEncoding('utf8').on('data', collect('stderr'));
    const timer = setTimeout(() => {
      timedOut = true;
      cpuSecondsAtTimeout = child.pid === undefined ? null : processGroupCpuSeconds(child.pid);
      kill();
    }, options.timeoutMs);
    options.signal?.addEventListener('abort', kill, { once: true });
    child.on('error', (error) => {
      spawnError = error.message;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', kill);
      // The tool's own children (cc1plus) share its group: none outlives it.
      kill();
      const { confinement, rest } = splitReport(spawnError === null ? output.stderr : `could not start ${GATEKEEPER_NAME}: ${spawnError}`);
      resolve({ code, signal, stdout: output.stdout, stderr: rest, timedOut, cpuSecondsAtTimeout, aborted: options.signal?.aborted === true, confinement });
    });
  });
}

/**
 * The share of one core below which a tool killed at its wall-clock limit
 * is taken to have been starved (a loaded machine, or held while the
 * sandbox measured): it would have finished on an idle core.
 */
const STARVED_CORE_SHARE = 0.5;

/** Killed at its wall-clock limit having had less than half a core: the machine's failure, not the input's. */
export function starved(run: ConfinedRun, timeoutMs: number): boolean {
  return run.timedOut && run.cpuSecondsAtTimeout !== null && run.cpuSecondsAtTimeout < (STARVED_CORE_SHARE * timeoutMs) / 1000;
}

/** The ELF gate's findings on a module (crates/gatekeeper/src/inspect.rs). */
export interface ModuleInspection {
  bytes: number;
  undefined: string[];
  exports: string[];
  needed: string[];
  problems: { rule: string; message: string }[];
}

/**
 * Inspects a built module. `trustedRendering` is the gauntlet's own finding
 * that the source is the variant generator's rendering of its genome
 * (ts/generators/variant/trust.ts): the syscall scan then lets a byte pair
 * inside any decoded instruction through (crates/gatekeeper/src/scan.rs).
 */
export function inspectModule(modulePath: string, trustedRendering = false): Promise<ModuleInspection | { error: string }> {
  const args = trustedRendering ? ['inspect', '--trusted-rendering', modulePath] : ['inspect', modulePath];
  return new Promise((resolve) => {
    execFile(gatekeeperPath(), args, { maxBuffer: MAX_OUTPUT_BYTES, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) {
        resolve({ error: stderr.trim() || error.message });
        return;
      }
      try {
        resolve(JSON.parse(stdout) as ModuleInspection);
      } catch {
        resolve({ error: 'the gatekeeper printed no inspection' });
      }
    });
  });
}
