/**
 * Failures of the machine, told apart from failures of the candidate: a
 * gate that meets one fails with `infrastructure` set (types.ts), so the
 * engine records the attempt as failed for that reason instead of charging
 * the candidate with a rejection.
 */
import type { InfrastructureFailure } from './types.js';

const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);
/** What g++, as and ld print when a write fails for want of space. */
const DISK_FULL_TEXT = /No space left on device|Disk quota exceeded/;

/** A filesystem error that means the scratch or cache disk is full. */
export function isDiskFullError(error: unknown): boolean {
  return DISK_FULL_CODES.has((error as NodeJS.ErrnoException | null)?.code ?? '');
}

/** A tool's output that says one of its writes found the disk full. */
export function reportsDiskFull(output: string): boolean {
  return DISK_FULL_TEXT.test(output);
}

export function diskFull(what: string, detail: string): InfrastructureFailure {
  return { kind: 'disk-full', message: `${what}: the disk is full (${detail.trim()})` };
}

/**
 * A tool killed at its wall-clock limit having had little of a core
 * (gatekeeper.ts `starved`): it waited for the cores, or was held while
 * the sandbox measured, which says nothing about the source.
 */
export function busy(tool: string, wallMs: number, cpuSeconds: number): InfrastructureFailure {
  return {
    kind: 'busy',
    message: `${tool} was stopped at ${wallMs / 1000} s of wall time having had ${cpuSeconds.toFixed(1)} s of CPU: the machine is too busy`,
  };
}

/** The sentence an attempt's record gives for it. */
export function describeInfrastructure(failure: InfrastructureFailure): string {
  return `infrastructure (${failure.kind}), not the candidate: ${failure.message}`;
}
