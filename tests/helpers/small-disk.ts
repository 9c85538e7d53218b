/**
 * Runs node on a real small disk: a tmpfs of `size` (e.g. "16k") mounted on
 * `dir` in a private user and mount namespace (unshare), so that filling it
 * touches nothing outside. With `asTmpdir`, TMPDIR names it too.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';

export function nodeOnSmallDisk(dir: string, size: string, nodeArgs: string[], options: { asTmpdir?: boolean; timeoutMs: number }): SpawnSyncReturns<string> {
  const tmpdir = options.asTmpdir === true ? 'export TMPDIR="$1" && ' : '';
  return spawnSync(
    'unshare',
    [
      '--user',
      '--map-root-user',
      '--mount',
      'sh',
      '-c',
      `mount -t tmpfs -o size=${size} tmpfs "$1" && ${tmpdir}shift && exec "$@"`,
      'sh',
      dir,
      process.execPath,
      ...nodeArgs,
    ],
    { encoding: 'utf8', timeout: options.timeoutMs },
  );
}
