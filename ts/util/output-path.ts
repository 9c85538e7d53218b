/**
 * Checks of a path the program will write, made before any work starts, so
 * that a run does not end by failing to save what it did. Each error names
 * the flag or key, the path and what is wrong with it.
 */
import { lstatSync, type Stats } from 'node:fs';
import path from 'node:path';
import { describe } from '../errors.js';

/** Kernel interfaces: writing or creating directories there never makes a file, and can loop or change the system. */
const PSEUDO_FILE_SYSTEMS = ['/proc', '/sys'];

function statOrNull(file: string): Stats | null {
  try {
    return lstatSync(file);
  } catch {
    return null;
  }
}

/** The deepest existing ancestor of `file` (the root at worst). */
function nearestExisting(file: string): { at: string; stats: Stats } {
  for (let at = path.dirname(file); ; at = path.dirname(at)) {
    const stats = statOrNull(at);
    if (stats !== null) return { at, stats };
    if (path.dirname(at) === at) throw new Error(`no ancestor of ${file} exists`);
  }
}

function underPseudoFileSystem(file: string): string | undefined {
  return PSEUDO_FILE_SYSTEMS.find((root) => file === root || file.startsWith(`${root}/`));
}

/**
 * Throws unless `file` can become a file: not under /proc or /sys, not a
 * directory, and its nearest existing ancestor a directory (so creating
 * the missing ones can succeed). Returns the absolute path.
 */
export function checkOutputFile(name: string, file: string): string {
  const resolved = path.resolve(file);
  const pseudo = underPseudoFileSystem(resolved);
  if (pseudo !== undefined) throw new Error(`${name} = ${describe(file)}: is under ${pseudo}, a kernel interface, not a place for files`);
  if (statOrNull(resolved)?.isDirectory()) throw new Error(`${name} = ${describe(file)}: is a directory; name a file`);
  const { at, stats } = nearestExisting(resolved);
  if (!stats.isDirectory() && !stats.isSymbolicLink()) {
    throw new Error(`${name} = ${describe(file)}: ${describe(at)} is a file, not a directory, so nothing can be created under it`);
  }
  return resolved;
}

/** Throws unless `dir` is, or can be created as, a directory. Returns the absolute path. */
export function checkOutputDir(name: string, dir: string): string {
  const resolved = path.resolve(dir);
  const pseudo = underPseudoFileSystem(resolved);
  if (pseudo !== undefined) throw new Error(`${name} = ${describe(dir)}: is under ${pseudo}, a kernel interface, not a place for files`);
  const stats = statOrNull(resolved);
  if (stats !== null && !stats.isDirectory() && !stats.isSymbolicLink()) throw new Error(`${name} = ${describe(dir)}: is a file, not a directory`);
  if (stats === null) {
    const { at, stats: ancestor } = nearestExisting(resolved);
    if (!ancestor.isDirectory() && !ancestor.isSymbolicLink()) {
      throw new Error(`${name} = ${describe(dir)}: ${describe(at)} is a file, not a directory, so the directory cannot be created`);
    }
  }
  return resolved;
}
