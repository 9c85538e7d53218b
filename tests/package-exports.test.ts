/**
 * What the package promises without installing it: the tarball's contents
 * and size, what each entry point loads, the CLI's --version and lazy
 * commands, and the public path helpers.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHIPPED_KERNELS, kernelHeaderPath, kernelPath } from '../dist/ts/lattice/index.js';
import { NativeLoadError, kernelModulePath } from '../dist/native/loader.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; version: string };
const cli = path.join(root, 'bin', 'ouroboros.js');

let scratch: string;
let hooks: string;

beforeAll(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-exports-'));
  // A resolve hook that prints every module the import resolves, so the test
  // sees the whole graph an entry point pulls in, not a timing.
  const hookFile = path.join(scratch, 'hooks.mjs');
  writeFileSync(
    hookFile,
    "export async function resolve(specifier, context, next) { const r = await next(specifier, context); process.stderr.write('resolved ' + r.url + '\\n'); return r; }\n",
  );
  hooks = path.join(scratch, 'register.mjs');
  writeFileSync(hooks, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hookFile).href)});\n`);
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Every URL resolved while node runs `args` with the hook in place. */
function resolvedBy(args: string[]): string[] {
  const result = spawnSync(process.execPath, ['--import', hooks, ...args], { cwd: root, encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
  return result.stderr
    .split('\n')
    .filter((line) => line.startsWith('resolved '))
    .map((line) => line.slice('resolved '.length));
}

function importing(file: string): string[] {
  return resolvedBy(['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(path.join(root, file)).href)});`]);
}

const HEAVY = ['/better-sqlite3/', '/piscina/', '/openai/', '/benchmark/', '/dist/ts/engine/', '/dist/ts/gauntlet/', '/dist/ts/archive/'];

describe('entry points', () => {
  it('the lattice subpath loads none of the engine, gauntlet, archive, SQLite, piscina, openai or Benchmark.js', () => {
    const loaded = importing('dist/ts/lattice/index.js');
    expect(loaded.some((url) => url.endsWith('/dist/ts/lattice/lattice.js'))).toBe(true);
    expect(loaded.filter((url) => HEAVY.some((part) => url.includes(part)))).toEqual([]);
  });

  it('the root entry still loads everything', () => {
    const loaded = importing('dist/ts/index.js');
    for (const part of ['/dist/ts/engine/', '/dist/ts/gauntlet/', '/dist/ts/archive/']) {
      expect(loaded.some((url) => url.includes(part))).toBe(true);
    }
  });

  it('package.json exports the root and the /lattice, /engine and /gauntlet subpaths, each with its types', () => {
    const exported = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; import: string }> })
      .exports;
    for (const [subpath, file] of [
      ['.', 'index'],
      ['./lattice', 'lattice/index'],
      ['./engine', 'engine/index'],
      ['./gauntlet', 'gauntlet/index'],
    ] as const) {
      expect(exported[subpath]).toEqual({ types: `./dist/ts/${file}.d.ts`, import: `./dist/ts/${file}.js` });
    }
  });
});

describe('the CLI', () => {
  it('--help lists every command and loads none of them', () => {
    const loaded = resolvedBy([cli, '--help']);
    expect(loaded.filter((url) => url.includes('/dist/ts/') && !url.match(/\/dist\/ts\/cli\/(main|commands|usage-error)\.js$/))).toEqual([]);
    const help = execFileSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
    for (const command of ['run', 'simulate', 'swap', 'rollback', 'status', 'stop', 'bench', 'check', 'archive', 'ledger']) {
      expect(help).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
  });

  it('--version prints the package version', () => {
    expect(execFileSync(process.execPath, [cli, '--version'], { encoding: 'utf8' }).trim()).toBe(manifest.version);
  });

  it('a command still gets its full help and options when it runs', () => {
    const help = execFileSync(process.execPath, [cli, 'help', 'simulate'], { encoding: 'utf8' });
    expect(help).toContain('--extents');
    const simulate = execFileSync(process.execPath, [cli, 'simulate', '--extents', '8,8', '--steps', '3', '--json'], { encoding: 'utf8' });
    expect(JSON.parse(simulate)).toMatchObject({ extents: [8, 8], steps: 3 });
  });

  it('the run command does not need Benchmark.js to load', () => {
    const loaded = importing('dist/ts/cli/run-command.js');
    expect(loaded.filter((url) => url.includes('/benchmark/'))).toEqual([]);
  });
});

describe('the tarball', () => {
  interface PackInfo {
    name: string;
    size: number;
    files: { path: string }[];
  }
  let info: PackInfo;
  beforeAll(() => {
    const output = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    [info] = JSON.parse(output) as [PackInfo];
  });

  it(`is ${'@ouroboros-engine/core'}, under 1 MB, with dist, the types, the bin, README, LICENSE and the kernel ABI header`, () => {
    expect(info.name).toBe('@ouroboros-engine/core');
    expect(info.size).toBeLessThanOrEqual(1_000_000);
    const files = info.files.map((file) => file.path);
    for (const file of [
      'bin/ouroboros.js',
      'dist/ts/index.js',
      'dist/ts/index.d.ts',
      'dist/ts/lattice/index.js',
      'dist/ts/lattice/index.d.ts',
      'dist/native/loader.js',
      'README.md',
      'LICENSE',
      'cpp/include/ouroboros/kernel_abi.h',
      'scripts/install.mjs',
      'ts/gauntlet/template-analysis.json',
    ]) {
      expect(files).toContain(file);
    }
  });

  it('holds no tests, CI files, source maps, TypeScript sources or native binaries', () => {
    const unwanted = info.files
      .map((file) => file.path)
      .filter((file) => /^(tests|\.ci|native)\//.test(file) || file.endsWith('.map') || file.endsWith('.node') || /^ts\/.*\.ts$/.test(file));
    expect(unwanted).toEqual([]);
  });
});

describe('public paths', () => {
  it('kernelPath gives each shipped kernel module and refuses other names', () => {
    for (const name of SHIPPED_KERNELS) expect(kernelPath(name)).toBe(kernelModulePath(name));
    expect(() => kernelPath('../../etc/passwd' as 'rows')).toThrow('name = "../../etc/passwd": must be one of reference, reference_twin, rows, rows_twin');
  });

  it('kernelHeaderPath is the kernel ABI header of this package', () => {
    expect(kernelHeaderPath()).toBe(path.join(root, 'cpp', 'include', 'ouroboros', 'kernel_abi.h'));
    expect(readFileSync(kernelHeaderPath(), 'utf8')).toContain('ouro_kernel_entry');
  });

  it('a missing native file names every place it was looked for', () => {
    const previous = process.env.OUROBOROS_NATIVE_DIR;
    process.env.OUROBOROS_NATIVE_DIR = path.join(scratch, 'empty');
    try {
      let error: unknown;
      try {
        kernelModulePath('no_such_kernel');
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(NativeLoadError);
      const message = (error as Error).message;
      expect(message).toContain(path.join(scratch, 'empty', 'kernels'));
      expect(message).toContain(path.join(root, 'native', 'kernels'));
      expect(message).toContain('@ouroboros-engine/core-');
    } finally {
      if (previous === undefined) delete process.env.OUROBOROS_NATIVE_DIR;
      else process.env.OUROBOROS_NATIVE_DIR = previous;
    }
  });
});
