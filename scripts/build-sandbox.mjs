// Builds the gauntlet's sandbox runner (crates/sandbox: the supervisor and
// the worker program it executes for each kernel) and its gatekeeper
// (crates/gatekeeper: the ELF gate and the tools' confinement) with cargo in
// release mode and stages them as native/sandbox/<triple>/<binary>; then copies the generated protobuf code to dist/ (tsc does not copy .js).
//
// Needs crates.io for the first cargo build (libc; object, landlock and
// serde_json for the gatekeeper); downloads nothing else.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { targetTriple } from './target-triple.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const binaries = [
  { crate: 'ouroboros-sandbox', binary: 'ouroboros-sandbox' },
  { crate: 'ouroboros-sandbox', binary: 'ouroboros-sandbox-worker' },
  { crate: 'ouroboros-gatekeeper', binary: 'ouroboros-gatekeeper' },
];

function fail(reason) {
  console.error(`build-sandbox: ${reason}`);
  process.exit(1);
}

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.error) fail(`could not run ${command}: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${args.join(' ')} exited with ${result.status ?? `signal ${result.signal}`}`);
}

const stageDir = path.join(root, 'native', 'sandbox', targetTriple());
mkdirSync(stageDir, { recursive: true });
for (const { crate, binary } of binaries) {
  run('cargo', ['build', '--release', '--package', crate, '--bin', binary]);
  const built = path.join(root, 'target', 'release', binary);
  if (!existsSync(built)) fail(`cargo succeeded but ${built} is missing`);
  // Copy then rename: a runner starting right now never sees a half-written file.
  const destination = path.join(stageDir, binary);
  const partial = `${destination}.${process.pid}.partial`;
  copyFileSync(built, partial);
  chmodSync(partial, 0o755);
  renameSync(partial, destination);
  console.log(`build-sandbox: wrote ${path.relative(root, destination)}`);
}

run(process.execPath, [path.join(root, 'scripts', 'generate-proto.mjs'), '--copy']);
