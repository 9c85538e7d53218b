/**
 * One temporary directory per test run, in place of the system's: every
 * suite, and every process a suite starts (engines, sandboxes, servers),
 * makes its files under TMPDIR, and the run removes the whole directory when
 * it ends. Suites make hundreds of directories (archives, scratch, sockets,
 * fixtures built on the fly); left in /tmp they piled up run after run, and
 * a suite that tidies only when it passes would still leave a failed run's.
 *
 * The directory has /tmp's mode (sticky, writable by all), so suites that
 * try another user's access (control-socket-security) meet what they meet
 * under /tmp. Workers are forked after this runs and inherit TMPDIR.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const previous = process.env.TMPDIR;
  const root = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-tests-'));
  chmodSync(root, 0o1777);
  process.env.TMPDIR = root;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(root, { recursive: true, force: true });
  };
}
