// npm's install script. With the per-target package of prebuilt binaries
// installed (the usual case: npm picks it from optionalDependencies by os, cpu
// and libc) there is nothing to do. Otherwise it builds the native parts from
// source, after checking every tool that build needs and naming each missing
// one in a single message, so nobody has to fail through them one at a time.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { packageBin } from './package-bin.mjs';
import { targetTriple } from './target-triple.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const triple = targetTriple();
const targetPackage = `@ouroboros-engine/core-${triple}`;

function installedTargetPackage() {
  try {
    return path.dirname(createRequire(path.join(root, 'package.json')).resolve(`${targetPackage}/package.json`));
  } catch {
    return undefined;
  }
}

function onPath(command) {
  const names = process.platform === 'win32' ? [`${command}.exe`, `${command}.cmd`] : [command];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    for (const name of names) {
      try {
        accessSync(path.join(dir, name), constants.X_OK);
        return true;
      } catch {
        // not in this directory
      }
    }
  }
  return false;
}

/** A clone has the TypeScript sources and must compile them; the published package ships dist/ compiled. */
const isClone = existsSync(path.join(root, 'tsconfig.json'));

function missingTools() {
  const missing = [];
  if (!onPath('cmake')) missing.push('cmake (3.20 or later; Debian: apt install cmake)');
  const compilers = [process.env.CXX, 'c++', 'g++', 'clang++'].filter(Boolean);
  if (!compilers.some(onPath)) missing.push('a C++20 compiler (CMakeLists.txt asks for C++20: g++ 11+ or clang++ 14+; Debian: apt install g++)');
  if (!onPath('cargo')) missing.push('cargo, the Rust toolchain (https://rustup.rs)');
  const npmTools = [
    ['cmake-js', 'cmake-js'],
    ['@napi-rs/cli', 'napi'],
  ];
  if (isClone) npmTools.push(['typescript', 'tsc']);
  for (const [name, command] of npmTools) {
    if (!packageBin(root, name, command)) missing.push(`the npm package ${name} (a devDependency: build from a clone after npm install)`);
  }
  return missing;
}

function run(script, ...args) {
  const result = spawnSync(process.execPath, [path.join(root, 'scripts', script), ...args], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`ouroboros install: ${script} ${args.join(' ')} failed; the output above says why`);
    process.exit(1);
  }
}

const prebuilt = installedTargetPackage();
if (prebuilt) {
  console.log(`ouroboros install: using the prebuilt binaries in ${prebuilt}`);
  process.exit(0);
}

console.log(`ouroboros install: no prebuilt binaries for ${triple} (${targetPackage} is not installed); building from source`);
const missing = missingTools();
if (missing.length > 0) {
  console.error(`ouroboros install: cannot build from source; missing:\n${missing.map((tool) => `  - ${tool}`).join('\n')}`);
  process.exit(1);
}
for (const gate of ['clang-tidy', 'cppcheck']) {
  if (!onPath(gate)) console.warn(`ouroboros install: ${gate} is not installed: the gauntlet's full static gate needs it (Debian: apt install ${gate})`);
}
run('build-core.mjs');
run('build-napi.mjs', 'oracle-napi');
run('build-napi.mjs', 'segment-napi');
run('build-sandbox.mjs');
run('build-kernel-host.mjs');
if (isClone) {
  const tsc = packageBin(root, 'typescript', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(1);
  run('generate-proto.mjs', '--copy');
}
