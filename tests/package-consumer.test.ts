/**
 * The package as a user gets it: `npm pack` of the main package and of this
 * platform's per-target package, both tarballs installed into a fresh project
 * whose PATH holds node, npm and npx only (no cmake, cargo or C++ compiler),
 * then a TypeScript program that imports the lattice subpath, type-checked and
 * run, and the CLI through npx.
 *
 * better-sqlite3 (a dependency of the archive) has no prebuilt binary this
 * machine can download: its install script asks prebuild-install, which
 * fetches from GitHub, and falls back to a g++ build. The test serves the
 * binary already built in node_modules from a loopback HTTP server and points
 * prebuild-install at it with its documented mirror setting
 * (npm_config_better_sqlite3_binary_host), which is how a user with network
 * gets a prebuilt one. The npm registry serves every other dependency.
 */
import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; version: string };
const triple = execFileSync(process.execPath, [path.join(root, 'scripts', 'target-triple.mjs')], { encoding: 'utf8' }).trim();
const sqliteDir = path.join(root, 'node_modules', 'better-sqlite3');
const sqliteVersion = (JSON.parse(readFileSync(path.join(sqliteDir, 'package.json'), 'utf8')) as { version: string }).version;

/** An install fetches dependencies from the registry; on a loaded machine that takes minutes. */
const INSTALL_TIMEOUT_MS = 900_000;

let scratch: string;
let consumer: string;
let toolsDir: string;
let server: Server;
let prebuildRequests: string[];
let mainTarball: string;
let install: { status: number | null; stdout: string; stderr: string };

/** A PATH of symlinks to exactly the commands a user without a toolchain has. */
function toolsOnly(dir: string): string {
  mkdirSync(dir);
  const nodeBin = path.dirname(process.execPath);
  for (const command of ['node', 'npm', 'npx']) symlinkSync(path.join(nodeBin, command), path.join(dir, command));
  symlinkSync('/bin/sh', path.join(dir, 'sh'));
  return dir;
}

function consumerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // HOME keeps the user's npm cache and .npmrc (registry, proxy); nothing else is inherited.
  return { HOME: process.env.HOME, PATH: toolsDir, ...extra };
}

function inConsumer(command: string, args: string[], extra: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd: consumer, env: consumerEnv(extra), encoding: 'utf8', timeout: INSTALL_TIMEOUT_MS });
}

/** A fresh project that depends on better-sqlite3 pinned to the version whose binary the mirror serves. */
function newProject(name: string): string {
  const dir = path.join(scratch, name);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module', dependencies: { 'better-sqlite3': sqliteVersion } }));
  return dir;
}

/** `npm install` in `cwd` without blocking this process: its event loop serves prebuild-install's download meanwhile. */
function npmInstall(cwd: string, args: string[]): Promise<typeof install> {
  const extra = { npm_config_better_sqlite3_binary_host: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['install', '--no-audit', '--no-fund', '--foreground-scripts', ...args], {
      cwd,
      env: consumerEnv(extra),
      timeout: INSTALL_TIMEOUT_MS,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

function pack(dir: string): string {
  const output = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], { cwd: dir, encoding: 'utf8' });
  const [info] = JSON.parse(output) as { filename: string }[];
  return path.join(scratch, info!.filename);
}

/**
 * The main package as the release job publishes it: packed, then with the
 * platform packages added as optional dependencies (scripts/prepublish.mjs),
 * then packed again.
 */
function packForRelease(): string {
  const unpacked = path.join(scratch, 'main');
  mkdirSync(unpacked);
  execFileSync('tar', ['-xzf', pack(root), '-C', unpacked]);
  const folder = path.join(unpacked, 'package');
  execFileSync(process.execPath, [path.join(root, 'scripts', 'prepublish.mjs'), '--manifest', path.join(folder, 'package.json')]);
  return pack(folder);
}

/** prebuild-install's archive for this Node: build/Release/better_sqlite3.node, at the path it asks the mirror for. */
function servePrebuiltSqlite(): Promise<void> {
  const archiveName = `better-sqlite3-v${sqliteVersion}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  const archive = path.join(scratch, archiveName);
  execFileSync('tar', ['-czf', archive, '-C', sqliteDir, 'build/Release/better_sqlite3.node']);
  server = createServer((request, response) => {
    prebuildRequests.push(request.url ?? '');
    if (request.url === `/v${sqliteVersion}/${archiveName}`) {
      response.writeHead(200, { 'content-type': 'application/gzip' });
      response.end(readFileSync(archive));
    } else {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
}

const program = `
import { existsSync } from 'node:fs';
import { Lattice, kernelHeaderPath, kernelPath, type SwapResult } from '${manifest.name}/lattice';

const lat = new Lattice({ extents: [64, 64], dt: 0.5 });
const previous = new Float64Array(lat.cells);
const current = new Float64Array(lat.cells);
current[32 * 64 + 32] = 4;
lat.setState(previous, current);
lat.step(10);
const initialEnergy = lat.energy();
const rowsFile: string = kernelPath('rows');
const rows = await lat.loadModule(rowsFile);
const run = lat.run();
const swap: SwapResult = await lat.swap('step', rows);
await lat.stop();
await run;
console.log(JSON.stringify({
  stepCount: lat.stepCount,
  kernelName: lat.kernelName,
  swap: { fromName: swap.fromName, toName: swap.toName, firstStepRan: swap.firstStepRan },
  energyDrift: Math.abs(lat.energy() - initialEnergy) / initialEnergy,
  rowsFile,
  header: kernelHeaderPath(),
  headerExists: existsSync(kernelHeaderPath()),
}));
lat.close();
`;

describe(`${manifest.name} installed from its tarballs by a project without a toolchain`, () => {
  beforeAll(async () => {
    scratch = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-consumer-'));
    toolsDir = toolsOnly(path.join(scratch, 'bin'));
    prebuildRequests = [];
    mainTarball = packForRelease();
    const assembled = path.join(scratch, `core-${triple}`);
    execFileSync(process.execPath, [path.join(root, 'scripts', 'assemble-target.mjs'), '--out', assembled]);
    const targetTarball = pack(assembled);
    await servePrebuiltSqlite();
    consumer = newProject('consumer');
    install = await npmInstall(consumer, [mainTarball, targetTarball]);
  }, INSTALL_TIMEOUT_MS);

  afterAll(() => {
    server?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('has no cmake, cargo or C++ compiler on its PATH', () => {
    const found = inConsumer('sh', ['-c', 'command -v cmake cargo g++ c++ clang++ make; true']);
    expect(found.stdout.trim()).toBe('');
  });

  it('installs, taking the prebuilt binaries and building nothing', () => {
    expect(install.status, `${install.stdout}\n${install.stderr}`).toBe(0);
    const installedManifest = JSON.parse(readFileSync(path.join(consumer, 'node_modules', '@ouroboros-engine', 'core', 'package.json'), 'utf8')) as {
      optionalDependencies: Record<string, string>;
    };
    expect(installedManifest.optionalDependencies[`@ouroboros-engine/core-${triple}`]).toBe(manifest.version);
    expect(install.stdout).toContain(`ouroboros install: using the prebuilt binaries in`);
    const installed = path.join(consumer, 'node_modules', ...manifest.name.split('/'));
    expect(existsSync(path.join(installed, 'build'))).toBe(false);
    expect(existsSync(path.join(installed, 'native'))).toBe(false);
    expect(prebuildRequests.length).toBeGreaterThan(0);
  });

  it(
    'without a prebuilt target, fails naming every tool the source build lacks',
    async () => {
      // --omit=optional stands for a platform no per-target package matches.
      const bare = await npmInstall(newProject('no-prebuilt'), ['--omit=optional', mainTarball]);
      const output = `${bare.stdout}\n${bare.stderr}`;
      expect(bare.status, output).not.toBe(0);
      expect(output).toContain(`no prebuilt binaries for ${triple} (@ouroboros-engine/core-${triple} is not installed)`);
      for (const tool of ['cmake (', 'a C++20 compiler (', 'cargo, ', 'the npm package cmake-js ', 'the npm package @napi-rs/cli ']) {
        expect(output).toContain(`  - ${tool}`);
      }
    },
    INSTALL_TIMEOUT_MS,
  );

  it('type-checks and runs a program that steps the lattice and hot-swaps a shipped kernel', () => {
    writeFileSync(path.join(consumer, 'main.ts'), program);
    writeFileSync(
      path.join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          skipLibCheck: true,
          outDir: 'out',
          types: ['node'],
          typeRoots: [path.join(root, 'node_modules', '@types')],
        },
        files: ['main.ts'],
      }),
    );
    const tsc = inConsumer('node', [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']);
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
    const run = inConsumer('node', ['out/main.js']);
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as Record<string, unknown>;
    const targetDir = path.join(consumer, 'node_modules', '@ouroboros-engine', `core-${triple}`);
    // The run has no step budget (a loaded machine could spend one before the swap): it ran past the 10 steps before it.
    expect(result.stepCount).toBeGreaterThan(10);
    expect(result).toMatchObject({
      kernelName: 'rows',
      swap: { fromName: 'reference', toName: 'rows', firstStepRan: true },
      rowsFile: path.join(targetDir, 'kernels', triple, 'rows.so'),
      header: path.join(consumer, 'node_modules', '@ouroboros-engine', 'core', 'cpp', 'include', 'ouroboros', 'kernel_abi.h'),
      headerExists: true,
    });
    expect(result.energyDrift).toBeLessThanOrEqual(1e-12);
  });

  it('runs `npx ouroboros --version` and `npx ouroboros simulate`', () => {
    const version = inConsumer('npx', ['ouroboros', '--version']);
    expect(version.status, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(manifest.version);
    const simulate = inConsumer('npx', ['ouroboros', 'simulate', '--extents', '64,64', '--steps', '10', '--json']);
    expect(simulate.status, simulate.stderr).toBe(0);
    const summary = JSON.parse(simulate.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ extents: [64, 64], steps: 10, cells: 4096, kernel: 'reference' });
    expect(summary.energyDrift).toBeLessThanOrEqual(1e-12);
  });
});
