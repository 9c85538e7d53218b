// Measures what a user of the published package notices: the size of the
// main tarball and of this platform's per-target package, how long importing
// the lattice subpath takes, and how long `ouroboros --help` takes to print.
// Each time is the median of --runs fresh processes, beside the median of an
// empty `node -e 0` so start-up noise on a loaded machine is visible.
//
//   node scripts/measure-package.mjs [--runs 10] [--root <installed package>] [--out <file>] [--json]
//
// --root times an installed copy (e.g. a consumer's
// node_modules/@ouroboros-engine/core) instead of this checkout; the sizes are
// always those of packing this checkout. The JSON goes to --out, default
// bench/results/packaging.json under the current directory.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { assembleTarget } from './assemble-target.mjs';
import { targetTriple } from './target-triple.mjs';

const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** The figures the package is held to (issue 17). */
export const TARGETS = { latticeImportMs: 80, helpMs: 150, mainTarballBytes: 1_000_000 };

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function wallMs(args) {
  const startMs = performance.now();
  const result = spawnSync(process.execPath, args, { encoding: 'utf8' });
  const elapsedMs = performance.now() - startMs;
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${result.stderr}`);
  return { elapsedMs, stdout: result.stdout };
}

/** `npm pack --dry-run` of a folder: the tarball's size in bytes, unpacked size and file count. */
function packSize(dir) {
  const result = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`npm pack in ${dir} failed: ${result.stderr}`);
  const [info] = JSON.parse(result.stdout);
  return { name: info.name, tarballBytes: info.size, unpackedBytes: info.unpackedSize, files: info.entryCount };
}

export function measurePackage({ runs = 10, root = repoRoot } = {}) {
  const latticeUrl = pathToFileURL(path.join(root, 'dist', 'ts', 'lattice', 'index.js')).href;
  // The child times its own import, so node's start-up is not counted.
  const importScript = `const t = performance.now(); await import(${JSON.stringify(latticeUrl)}); console.log(performance.now() - t);`;
  const cli = path.join(root, 'bin', 'ouroboros.js');
  const emptyMs = [];
  const importMs = [];
  const importWallMs = [];
  const helpMs = [];
  for (let i = 0; i < runs; i++) {
    emptyMs.push(wallMs(['-e', '0']).elapsedMs);
    const run = wallMs(['--input-type=module', '-e', importScript]);
    importMs.push(Number(run.stdout.trim()));
    importWallMs.push(run.elapsedMs);
    helpMs.push(wallMs([cli, '--help']).elapsedMs);
  }
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-measure-'));
  try {
    const target = packSize(assembleTarget({ out: path.join(scratch, targetTriple()) }));
    return {
      benchmark: 'package',
      date: new Date().toISOString(),
      machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, loadAverage: os.loadavg() },
      runs,
      root,
      targets: TARGETS,
      nodeEmptyMs: median(emptyMs),
      latticeImportMs: median(importMs),
      latticeImportProcessMs: median(importWallMs),
      helpMs: median(helpMs),
      mainPackage: packSize(repoRoot),
      targetPackage: target,
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function format(report) {
  const kb = (bytes) => `${(bytes / 1000).toFixed(0)} kB`;
  const verdict = (value, limit) => (value <= limit ? 'within' : 'OVER');
  return [
    `node -e 0:                      ${report.nodeEmptyMs.toFixed(1)} ms (median of ${report.runs})`,
    `import lattice subpath:         ${report.latticeImportMs.toFixed(1)} ms in-process, ${report.latticeImportProcessMs.toFixed(1)} ms whole process (${verdict(report.latticeImportMs, TARGETS.latticeImportMs)} ${TARGETS.latticeImportMs} ms)`,
    `ouroboros --help:               ${report.helpMs.toFixed(1)} ms whole process (${verdict(report.helpMs, TARGETS.helpMs)} ${TARGETS.helpMs} ms)`,
    `${report.mainPackage.name} tarball: ${kb(report.mainPackage.tarballBytes)} (${report.mainPackage.files} files, ${kb(report.mainPackage.unpackedBytes)} unpacked; ${verdict(report.mainPackage.tarballBytes, TARGETS.mainTarballBytes)} 1 MB)`,
    `${report.targetPackage.name} tarball: ${kb(report.targetPackage.tarballBytes)} (${kb(report.targetPackage.unpackedBytes)} unpacked)`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: { runs: { type: 'string', default: '10' }, root: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' } },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    console.error(`measure-package: --runs ${values.runs}: must be an integer >= 1`);
    process.exit(2);
  }
  const report = measurePackage({ runs, root: values.root ? path.resolve(values.root) : repoRoot });
  const out = path.resolve(values.out ?? path.join('bench', 'results', 'packaging.json'));
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(values.json ? JSON.stringify(report) : `${format(report)}\n\nwrote ${out}`);
}
