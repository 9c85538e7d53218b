/**
 * The machine fingerprint a remembered module is trusted under: what makes
 * the same source build into a different module, or a verified module
 * behave differently (CPU model and instruction-set flags, the compiler,
 * the build flags with the host's -march, the Node runtime and
 * architecture), and the cache sizes a kernel's tiles are chosen against.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildFlags, COMPILER, hostMarch } from '../gauntlet/compile.js';
import { fingerprintHash } from './canonical-hash.js';
import type { FingerprintField, MachineFingerprint } from './types.js';

const execFileAsync = promisify(execFile);
const COMPILER_TIMEOUT_MS = 10_000;

/** The fields compared, in the order differences are reported. */
export const FINGERPRINT_FIELDS: readonly FingerprintField[] = [
  'cpuModel',
  'cpuFlags',
  'compilerVersion',
  'buildFlags',
  'march',
  'caches',
  'nodeVersion',
  'arch',
];

const CACHE_DIR = '/sys/devices/system/cpu/cpu0/cache';

/**
 * The data caches of sysfs entries (each an index directory's level, type
 * and size), as "L1d 32K, L2 1024K, L3 32768K": instruction caches left
 * out, levels in order. Empty when sysfs says nothing.
 */
export function describeCaches(entries: readonly { level: string; type: string; size: string }[]): string {
  return entries
    .filter((entry) => entry.type !== 'Instruction' && entry.level !== '' && entry.size !== '')
    .sort((a, b) => Number(a.level) - Number(b.level))
    .map((entry) => `L${entry.level}${entry.type === 'Data' ? 'd' : ''} ${entry.size}`)
    .join(', ');
}

async function caches(): Promise<string> {
  const read = (file: string) =>
    readFile(file, 'utf8').then(
      (text) => text.trim(),
      () => '',
    );
  const names = await readdir(CACHE_DIR).catch(() => [] as string[]);
  const entries = await Promise.all(
    names
      .filter((name) => /^index\d+$/.test(name))
      .map(async (name) => {
        const dir = path.join(CACHE_DIR, name);
        const [level, type, size] = await Promise.all([read(path.join(dir, 'level')), read(path.join(dir, 'type')), read(path.join(dir, 'size'))]);
        return { level, type, size };
      }),
  );
  return describeCaches(entries);
}

/**
 * The model and flags of the first processor in /proc/cpuinfo text. x86
 * names them "model name" and "flags", Arm "Processor"/"CPU part" and
 * "Features"; a field absent from the text is an empty string or list.
 */
export function parseCpuInfo(text: string): { cpuModel: string; cpuFlags: string[] } {
  const first = text.split(/\n\s*\n/)[0] ?? '';
  const fields = new Map<string, string>();
  for (const line of first.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const cpuModel = fields.get('model name') ?? fields.get('processor name') ?? fields.get('cpu part') ?? '';
  const flags = (fields.get('flags') ?? fields.get('features') ?? '').split(/\s+/).filter((flag) => flag.length > 0);
  return { cpuModel, cpuFlags: [...new Set(flags)].sort() };
}

async function cpu(): Promise<{ cpuModel: string; cpuFlags: string[] }> {
  const fromProc = await readFile('/proc/cpuinfo', 'utf8').then(parseCpuInfo, () => ({ cpuModel: '', cpuFlags: [] }));
  return { ...fromProc, cpuModel: fromProc.cpuModel || (os.cpus()[0]?.model ?? '') };
}

/** The first line of `g++ --version`, the string the compile gate records; or why it could not be read. */
async function compilerVersion(): Promise<string> {
  try {
    const { stdout } = await execFileAsync(COMPILER, ['--version'], { timeout: COMPILER_TIMEOUT_MS });
    return stdout.split('\n')[0] ?? '';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${COMPILER} is not installed` : `${COMPILER} --version failed: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** Adds the hash to a fingerprint's fields. */
export function withHash(fields: Omit<MachineFingerprint, 'hash'>): MachineFingerprint {
  const canonical = { ...fields, cpuFlags: [...new Set(fields.cpuFlags)].sort() };
  return { ...canonical, hash: fingerprintHash(canonical) };
}

/** This machine's fingerprint. */
export async function machineFingerprint(): Promise<MachineFingerprint> {
  const [{ cpuModel, cpuFlags }, compiler, flags, march, cacheSizes] = await Promise.all([cpu(), compilerVersion(), buildFlags(), hostMarch(), caches()]);
  return withHash({
    cpuModel,
    cpuFlags,
    compilerVersion: compiler,
    buildFlags: flags,
    march,
    caches: cacheSizes,
    nodeVersion: process.version,
    arch: process.arch,
  });
}
