// Builds one napi-rs binding crate in release mode with the napi-rs CLI and
// leaves exactly native/<binaryName>.<triple>.node, binaryName coming from the
// crate's napi.json:
//
//   node scripts/build-napi.mjs oracle-napi    -> native/ouroboros_oracle.<triple>.node
//   node scripts/build-napi.mjs segment-napi   -> native/ouroboros_segment.<triple>.node
//
// napi writes a JS loader and a .d.ts beside the addon it builds. The
// TypeScript side has its own loader and hand-written types
// (native/addon-types.ts), so napi builds into a throwaway directory under
// target/ and only the .node file is moved into native/.
//
// Needs crates.io for the first cargo build; downloads nothing else.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { packageBin } from './package-bin.mjs';
import { targetTriple } from './target-triple.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const crate = process.argv[2];
const crateDir = path.join(root, 'crates', crate ?? '');
const scratchDir = path.join(root, 'target', crate ?? '');
const nativeDir = path.join(root, 'native');

function fail(reason) {
  console.error(`build-napi${crate ? ` ${crate}` : ''}: ${reason}`);
  process.exit(1);
}

if (!crate || !existsSync(path.join(crateDir, 'napi.json'))) {
  fail(`usage: node scripts/build-napi.mjs <crate>, where crates/<crate>/napi.json exists (got ${crate})`);
}
const { binaryName } = JSON.parse(readFileSync(path.join(crateDir, 'napi.json'), 'utf8'));

function buildAddon() {
  const napi = packageBin(root, '@napi-rs/cli', 'napi');
  if (!napi) fail('the package @napi-rs/cli is not installed: run npm install in a clone (it is a devDependency)');
  const args = [
    'build',
    '--release',
    '--platform',
    '--no-js',
    '--manifest-path',
    path.join(crateDir, 'Cargo.toml'),
    '--config-path',
    path.join(crateDir, 'napi.json'),
    '--package-json-path',
    path.join(root, 'package.json'),
    '--output-dir',
    scratchDir,
    '--dts',
    'index.d.ts',
  ];
  const result = spawnSync(process.execPath, [napi, ...args], { cwd: root, stdio: 'inherit' });
  if (result.error) fail(`could not run ${napi}: ${result.error.message}`);
  if (result.status !== 0) {
    fail(`napi build exited with ${result.status ?? `signal ${result.signal}`}; see the cargo output above`);
  }
}

rmSync(scratchDir, { recursive: true, force: true });
buildAddon();

const fileName = `${binaryName}.${targetTriple()}.node`;
const built = path.join(scratchDir, fileName);
if (!existsSync(built)) {
  const produced = existsSync(scratchDir) ? readdirSync(scratchDir).join(', ') : 'nothing';
  fail(`napi build succeeded but ${built} is missing (it produced: ${produced})`);
}

// Copy then rename: a process that still has the old addon mapped keeps an
// intact file, and native/ never holds a half-written addon.
mkdirSync(nativeDir, { recursive: true });
const destination = path.join(nativeDir, fileName);
const partial = `${destination}.${process.pid}.partial`;
copyFileSync(built, partial);
renameSync(partial, destination);
console.log(`build-napi ${crate}: wrote ${path.relative(root, destination)}`);
