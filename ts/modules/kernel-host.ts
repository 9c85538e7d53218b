/**
 * Confined kernel hosts. A module from an untrusted generator (the LLM, a
 * user's file given to `ouroboros swap` or `check`) never runs in this
 * process: it runs in `ouroboros-kernel-host` (crates/kernel-host), a child
 * that maps the live lattice's state segment, confines itself as the
 * gauntlet's sandbox does (rlimits, namespaces, Landlock, no_new_privs, its
 * own pool, seccomp) and steps the segment in place on the core's command.
 *
 * This file starts a host, hands its channel and workspace to the core and
 * self-tests the module through it. Nothing of the module is loaded here,
 * not even by a probe child: its constructors run only inside the host,
 * under the loader's seccomp filter.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import type { CoreLattice, Precision } from '../../native/addon-types.js';
import { coreAddon, stagedNativePath } from '../../native/loader.js';
import { type KernelModuleInfo, ModuleRefusedError, checkModuleFile, contentAddressedCopy, defaultModuleCacheDir } from './module-manager.js';
import { type DeniedSyscall, kernelLogRecords, seccompKillOf } from './kernel-log.js';
import { oracleOffThread, selfTest } from './self-test.js';

export const KERNEL_HOST_NAME = 'ouroboros-kernel-host';
/** How long a host may take to confine itself, load the module and say hello. */
export const DEFAULT_HOST_READY_TIMEOUT_MS = 10_000;
/** How long one step may take in the host before it counts as hung. */
export const DEFAULT_HOST_STEP_TIMEOUT_MS = 10_000;
/** The host's stderr kept for the records (its layers and any message): it is untrusted, so bounded. */
const STDERR_KEPT_BYTES = 16 * 1024;
/** The core reads the hello the host announced with `ready`; it is already queued by then. */
const HELLO_AFTER_READY_MS = 1000;

/** One confinement layer as the host reported it. */
export interface KernelHostLayer {
  name: string;
  active: boolean;
  detail: string;
}

/**
 * How a host ended. A seccomp kill is a SIGSYS, and the kernel's log names
 * the system call (kernel-log.ts); Landlock denials are errors inside the
 * host, not visible here.
 */
export interface KernelHostExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The host was killed by its seccomp filter: the kernel made a system call the filter forbids. */
  seccompKill: boolean;
  /** That system call, as the kernel logged the kill; null when not a seccomp kill or the log cannot be read. */
  deniedSyscall: DeniedSyscall | null;
}

export interface ConfinedModuleInfo extends KernelModuleInfo {
  confined: true;
  hostPid: number;
  layers: KernelHostLayer[];
}

export interface ConfinedLoadOptions {
  cacheDir?: string;
  readyTimeoutMs?: number;
  stepTimeoutMs?: number;
}

/** What the host needs to know about the lattice it steps. */
export interface HostedLattice {
  core: CoreLattice;
  segmentFd: number;
  extents: readonly number[];
  precision: Precision;
  courant2: number;
  threads: number;
}

/**
 * The self-test the in-process path runs in a probe child, run here through
 * the host: its step of a seeded random state and its readout, each in the
 * host's workspace, against the Rust oracle, on the lattice's own extents
 * (the host's geometry is the lattice's). The comparison is made in this
 * process, so the module cannot forge it. The host's calls run on a native
 * worker thread and the oracle on a worker thread, since at 4096^2 they take
 * seconds that a served simulation's control socket must not wait for.
 * Null when it passes, else why not.
 */
async function selfTestInHost(lattice: HostedLattice, moduleId: number): Promise<string | null> {
  const { core } = lattice;
  const shape = { dimensions: lattice.extents.length, precision: lattice.precision, courant2: lattice.courant2 };
  try {
    return await selfTest(
      {
        stepCopy: (previous, current, steps) => core.stepCopyAsync(previous, current, steps, moduleId),
        readout: (field) => core.readoutAsync(moduleId, field),
      },
      [...lattice.extents],
      shape,
      oracleOffThread,
    );
  } catch (error) {
    return `self-test failed: ${error instanceof Error ? error.message : String(error)}`;
  }
}

export function kernelHostBinaryPath(): string {
  return stagedNativePath('kernel-host', KERNEL_HOST_NAME);
}

/** Parses the host's `layer <name> <active|inactive> <detail>` lines. */
export function parseLayers(stderr: string): KernelHostLayer[] {
  const layers: KernelHostLayer[] = [];
  for (const line of stderr.split('\n')) {
    const match = /^layer (\S+) (active|inactive) ?(.*)$/.exec(line);
    if (match) layers.push({ name: match[1]!, active: match[2] === 'active', detail: match[3]! });
  }
  return layers;
}

/**
 * How long after a seccomp kill its record may still be on its way to the
 * kernel's log: without auditd, the kernel's audit thread prints it
 * asynchronously, and a host's exit can be reported first.
 */
const KILL_RECORD_WAIT_MS = 500;
const KILL_RECORD_POLL_MS = 10;

/** The system call `pid`'s seccomp kill was for, from the kernel's log; null when no record comes or the log is unreadable. */
async function deniedSyscallOf(pid: number): Promise<DeniedSyscall | null> {
  for (let waitedMs = 0; ; waitedMs += KILL_RECORD_POLL_MS) {
    const records = kernelLogRecords();
    const denied = seccompKillOf(records, pid);
    if (denied !== null || records.length === 0 || waitedMs >= KILL_RECORD_WAIT_MS) return denied;
    await new Promise((resolve) => setTimeout(resolve, KILL_RECORD_POLL_MS));
  }
}

/** One running host process: its exit, its (bounded) stderr, and a way to end it. */
export class KernelHost {
  #stderr = '';
  readonly exited: Promise<KernelHostExit>;
  #exit: KernelHostExit | null = null;

  constructor(readonly child: ChildProcess) {
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      if (this.#stderr.length < STDERR_KEPT_BYTES) this.#stderr += chunk.slice(0, STDERR_KEPT_BYTES - this.#stderr.length);
    });
    this.exited = new Promise((resolve) => {
      const ended = (exit: KernelHostExit) => {
        this.#exit ??= exit;
        resolve(this.#exit);
      };
      // 'close', not 'exit': it comes after stderr has ended, so a host's last message is never lost to the race.
      child.once('close', (code, signal) => {
        const seccompKill = signal === 'SIGSYS';
        if (!seccompKill) {
          ended({ code, signal, seccompKill, deniedSyscall: null });
          return;
        }
        void deniedSyscallOf(child.pid ?? 0).then((deniedSyscall) => ended({ code, signal, seccompKill, deniedSyscall }));
      });
      // A host that could not be started at all emits only 'error'.
      child.once('error', () => ended({ code: null, signal: null, seccompKill: false, deniedSyscall: null }));
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Null while it runs. */
  get exit(): KernelHostExit | null {
    return this.#exit;
  }

  /** Resolves once the host printed `ready` (true) or ended or ran out of time (false). */
  ready(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(false), timeoutMs);
      const onData = () => {
        if (/^ready$/m.test(this.#stderr)) settle(true);
      };
      const settle = (ready: boolean) => {
        clearTimeout(timer);
        this.child.stderr?.off('data', onData);
        resolve(ready);
      };
      this.child.stderr?.on('data', onData);
      void this.exited.then(() => settle(false));
      onData();
    });
  }

  /** Ends the host (its channel closes with it); resolves once it has exited. */
  async kill(): Promise<KernelHostExit> {
    if (this.#exit === null) this.child.kill('SIGKILL');
    return this.exited;
  }
}

/** How a host ended, in words for a verdict or a ledger entry. */
export function describeExit(exit: KernelHostExit | null): string {
  if (exit === null) return 'did not say it was ready in time';
  if (exit.seccompKill) {
    const which = exit.deniedSyscall === null ? '' : ` (${exit.deniedSyscall.name})`;
    return `was killed by its seccomp filter (SIGSYS): a forbidden system call${which}`;
  }
  return exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

/** The host's last message line (usage, confinement or load errors), never the layers. */
function lastMessage(stderr: string): string {
  const lines = stderr.split('\n').filter((line) => line.startsWith('ouroboros-kernel-host: '));
  return lines.length > 0 ? `: ${lines[lines.length - 1]!.slice('ouroboros-kernel-host: '.length)}` : '';
}

/** A module file checked (ELF header) and copied to its content-addressed path, not loaded anywhere. */
export interface StagedModule {
  source: string;
  cachedPath: string;
  sha256: string;
}

export function stageModule(file: string, cacheDir = defaultModuleCacheDir()): StagedModule {
  const source = checkModuleFile(file);
  return { source, ...contentAddressedCopy(source, cacheDir) };
}

/**
 * Starts a kernel host for a staged module on the lattice's segment and
 * registers it with the core as a module; throws ModuleRefusedError naming
 * the file and why. The returned host must be killed when the lattice closes.
 */
export async function startKernelHost(
  { source, cachedPath, sha256 }: StagedModule,
  lattice: HostedLattice,
  options: ConfinedLoadOptions = {},
): Promise<{ info: ConfinedModuleInfo; host: KernelHost }> {
  const started = performance.now();
  const channel = coreAddon().openKernelHostChannel();
  const workspaceFd = lattice.core.openKernelHostWorkspace();
  let child: ChildProcess;
  try {
    child = spawn(
      kernelHostBinaryPath(),
      ['--module', cachedPath, '--courant2', String(lattice.courant2), '--threads', String(lattice.threads)],
      // An empty environment; fd 3 the segment, fd 4 the channel, fd 5 the workspace.
      { stdio: ['ignore', 'ignore', 'pipe', lattice.segmentFd, channel.hostFd, workspaceFd], env: {} },
    );
  } catch (error) {
    closeSync(channel.coreFd);
    closeSync(workspaceFd);
    throw error;
  } finally {
    closeSync(channel.hostFd);
  }
  const host = new KernelHost(child);
  if (!(await host.ready(options.readyTimeoutMs ?? DEFAULT_HOST_READY_TIMEOUT_MS))) {
    closeSync(channel.coreFd);
    closeSync(workspaceFd);
    const exit = host.exit;
    await host.kill();
    throw new ModuleRefusedError(source, `the kernel host ${describeExit(exit)}${lastMessage(host.stderr)}`);
  }
  const connected = lattice.core.connectKernelHost(
    channel.coreFd,
    workspaceFd,
    host.pid,
    cachedPath,
    HELLO_AFTER_READY_MS,
    options.stepTimeoutMs ?? DEFAULT_HOST_STEP_TIMEOUT_MS,
  );
  if ('refused' in connected) {
    await host.kill();
    throw new ModuleRefusedError(source, connected.refused.reason);
  }
  const defect = await selfTestInHost(lattice, connected.id);
  if (defect !== null) {
    await host.kill();
    throw new ModuleRefusedError(source, defect);
  }
  const info: ConfinedModuleInfo = {
    ...connected,
    source,
    sha256,
    loadMs: performance.now() - started,
    confined: true,
    hostPid: host.pid,
    layers: parseLayers(host.stderr),
  };
  return { info, host };
}
