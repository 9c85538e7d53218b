// Builds the confined kernel host (crates/kernel-host) with cargo in release
// mode and stages it as native/kernel-host/<triple>/ouroboros-kernel-host.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { targetTriple } from './target-triple.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const binaryName = 'ouroboros-kernel-host';

function fail(reason) {
  console.error(`build-kernel-host: ${reason}`);
  process.exit(1);
}

const result = spawnSync('cargo', ['build', '--release', '--package', binaryName, '--bin', binaryName], {
  cwd: root,
  stdio: 'inherit',
});
if (result.error) fail(`could not run cargo: ${result.error.message}`);
if (result.status !== 0) fail(`cargo exited with ${result.status ?? `signal ${result.signal}`}`);
const built = path.join(root, 'target', 'release', binaryName);
if (!existsSync(built)) fail(`cargo succeeded but ${built} is missing`);

// Copy then rename: a host starting right now never sees a half-written file.
const stageDir = path.join(root, 'native', 'kernel-host', targetTriple());
mkdirSync(stageDir, { recursive: true });
const destination = path.join(stageDir, binaryName);
const partial = `${destination}.${process.pid}.partial`;
copyFileSync(built, partial);
chmodSync(partial, 0o755);
renameSync(partial, destination);
console.log(`build-kernel-host: wrote ${path.relative(root, destination)}`);
