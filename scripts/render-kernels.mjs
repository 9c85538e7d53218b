// Renders a few representative variant kernels for ctest (cpp/tests/CMakeLists.txt):
//   node scripts/render-kernels.mjs <out dir>
// writes <out dir>/<kernel name>.cpp for each genome whose isa this CPU runs,
// kernels.txt (their names, one a line) and flags.txt (the compile gate's
// hardened flags with this host's -march, one a line), which
// cpp/tests/build_variant_kernels.cmake compiles them with. The genomes are
// the template cover's (every value of every gene: 1-D, 2-D and 3-D paths,
// wavefront and trapezoid blocking, the explicit vector path at each isa,
// serial, static and dynamic splits) and a wavefront sweep on the explicit
// vector path, which the cover reads only under trapezoid blocking.
// Runs over dist/: build it first (npm run build:ts).
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dist = path.join(root, 'dist', 'ts');

function fail(message) {
  console.error(`render-kernels: ${message}`);
  process.exit(1);
}

const outDir = process.argv[2];
if (outDir === undefined) fail('usage: node scripts/render-kernels.mjs <out dir>');
if (!existsSync(path.join(dist, 'generators', 'variant', 'render.js'))) fail(`${dist} has no renderer: run npm run build:ts first`);

const importDist = (file) => import(pathToFileURL(path.join(dist, file)).href);
const { kernelName, renderKernel } = await importDist('generators/variant/index.js');
const { COVERING_GENOMES } = await importDist('generators/variant/template-cover.js');
const { buildFlags } = await importDist('gauntlet/compile.js');

const WAVEFRONT_EXPLICIT = {
  ...COVERING_GENOMES[0],
  temporalSteps: 3,
  wavefrontPlanes: 2,
  split: 'dynamic',
  grainRows: 4,
  vectorPath: 'explicit',
  isa: 'avx2',
};

/** The isas this CPU runs: a kernel built for another would fault, not fail a comparison. */
function supportedIsas() {
  const flags = new Set(/^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim().split(/\s+/) ?? []);
  return new Set(['baseline', ...['avx2', 'avx512f'].filter((isa) => flags.has(isa))]);
}

const isas = supportedIsas();
const names = [];
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
for (const genome of [...COVERING_GENOMES, WAVEFRONT_EXPLICIT]) {
  const name = kernelName(genome);
  if (!isas.has(genome.isa)) {
    console.log(`render-kernels: ${name} skipped: this CPU has no ${genome.isa}`);
    continue;
  }
  writeFileSync(path.join(outDir, `${name}.cpp`), renderKernel(genome));
  names.push(name);
}
writeFileSync(path.join(outDir, 'kernels.txt'), `${names.join('\n')}\n`);
writeFileSync(path.join(outDir, 'flags.txt'), `${(await buildFlags()).join('\n')}\n`);
console.log(`render-kernels: ${names.length} kernels in ${outDir}`);
