/**
 * Gate 1: is this a patch the gauntlet may consider at all? A candidate is
 * the source of one kernel file under cpp/kernels/; an empty source, or one
 * aimed at any other path (.env, secrets/, snapshots, checkpoints, the
 * repository's metadata, anything outside the kernel sources), is refused.
 * No marker or token in the source approves anything: this gate only refuses.
 */
import path from 'node:path';
import type { GateVerdict } from './types.js';

/** Where candidate kernels live, relative to the package root. */
export const KERNEL_SOURCE_DIR = 'cpp/kernels';
export const DEFAULT_TARGET_PATH = `${KERNEL_SOURCE_DIR}/candidate.cpp`;
/** Larger sources are refused before any tool reads them. */
export const MAX_SOURCE_BYTES = 256 * 1024;

const SENSITIVE = [/(^|\/)\.env(\.|$)/i, /(^|\/)secrets?(\/|$)/i, /snapshot/i, /checkpoint/i, /(^|\/)\.git(\/|$)/, /(^|\/)node_modules(\/|$)/];

export interface PatchInput {
  source: string;
  /** The file the candidate would replace, relative to the package root. */
  targetPath: string;
}

function refusal(reason: string, details: Record<string, unknown>): Omit<GateVerdict, 'seconds'> {
  return { gate: 'patch', passed: false, reason, details };
}

export function patchGate({ source, targetPath }: PatchInput): Omit<GateVerdict, 'seconds'> {
  const bytes = Buffer.byteLength(source, 'utf8');
  if (source.trim() === '') return refusal('the candidate source is empty', { bytes });
  if (bytes > MAX_SOURCE_BYTES) {
    return refusal(`the candidate source is ${bytes} bytes: the limit is ${MAX_SOURCE_BYTES}`, { bytes });
  }
  const normalized = path.posix.normalize(targetPath.replaceAll('\\', '/'));
  const sensitive = SENSITIVE.find((pattern) => pattern.test(normalized));
  if (sensitive) {
    return refusal(`targetPath = "${targetPath}" touches a protected path (${sensitive.source})`, { targetPath });
  }
  const insideKernels =
    !path.posix.isAbsolute(normalized) &&
    normalized.startsWith(`${KERNEL_SOURCE_DIR}/`) &&
    !normalized.slice(KERNEL_SOURCE_DIR.length + 1).includes('/') &&
    /\.(cpp|cc)$/.test(normalized);
  if (!insideKernels) {
    return refusal(`targetPath = "${targetPath}": a candidate may only be a .cpp file directly in ${KERNEL_SOURCE_DIR}/`, {
      targetPath,
    });
  }
  return { gate: 'patch', passed: true, reason: '', details: { targetPath: normalized, bytes } };
}
