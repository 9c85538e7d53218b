/**
 * The per-user directories Ouroboros keeps its sockets, staged modules and
 * built candidates in. Everything that lands there is later trusted (a
 * socket answers as the user's server, a module is dlopened), so another
 * user must not be able to create, replace or reach any of it: the base
 * directory is the user's own, mode 0700, and not a symbolic link, checked
 * before every use. Nothing here reads the passwd database: containers often
 * run under a uid that has no entry, and `os.userInfo()` throws there.
 */
import { chmodSync, lstatSync, mkdirSync, type Stats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe } from '../errors.js';

/** The effective uid; Linux always has it. */
export function currentUid(): number {
  return process.geteuid?.() ?? process.getuid?.() ?? 0;
}

/** A directory that is not safe to keep private files in, and why. */
export class UnsafeDirectoryError extends Error {
  override name = 'UnsafeDirectoryError';
  constructor(
    readonly dir: string,
    readonly problem: string,
  ) {
    super(
      `${describe(dir)} ${problem}: Ouroboros keeps sockets and modules it will trust there, so it must be a directory of uid ${currentUid()} with mode 0700`,
    );
  }
}

function lstatOrNull(dir: string): Stats | null {
  try {
    return lstatSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/**
 * Creates `dir` (mode 0700) unless it exists, then checks that it is a real
 * directory (not a symbolic link) owned by this user, and takes away any
 * group or other permission it has. Returns `dir`.
 */
export function ensurePrivateDir(dir: string): string {
  if (lstatOrNull(dir) === null) {
    mkdirSync(path.dirname(dir), { recursive: true });
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (error) {
      // Another process of ours may have made it meanwhile; the checks below decide.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  const stats = lstatOrNull(dir);
  if (stats === null) throw new UnsafeDirectoryError(dir, 'vanished while it was being created');
  if (stats.isSymbolicLink()) throw new UnsafeDirectoryError(dir, 'is a symbolic link');
  if (!stats.isDirectory()) throw new UnsafeDirectoryError(dir, 'is not a directory');
  if (stats.uid !== currentUid()) throw new UnsafeDirectoryError(dir, `belongs to uid ${stats.uid}`);
  if ((stats.mode & 0o077) !== 0) chmodSync(dir, 0o700);
  return dir;
}

/**
 * Where this user's runtime files go: `$XDG_RUNTIME_DIR/ouroboros` when the
 * variable names a directory of ours (the login manager made it, 0700), else
 * `<tmpdir>/ouroboros-<uid>`. Only the path: ensurePrivateDir() creates and
 * checks it when something is about to be put there.
 */
export function runtimeDirPath(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg !== undefined && path.isAbsolute(xdg)) {
    const stats = lstatOrNull(xdg);
    if (stats !== null && stats.isDirectory() && stats.uid === currentUid()) return path.join(xdg, 'ouroboros');
  }
  return path.join(os.tmpdir(), `ouroboros-${currentUid()}`);
}

/** `name` inside this user's runtime directory, which is created and checked first. */
export function privateRuntimePath(name: string): string {
  return path.join(ensurePrivateDir(runtimeDirPath()), name);
}

/**
 * `name` inside `<tmpdir>/ouroboros-<uid>`, created and checked first: for
 * caches too large for a runtime directory, which is often a small tmpfs.
 */
export function privateTmpPath(name: string): string {
  return path.join(ensurePrivateDir(path.join(os.tmpdir(), `ouroboros-${currentUid()}`)), name);
}
