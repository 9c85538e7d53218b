// Builds the C++ core (addon, kernel modules, ctest suites) with cmake-js in
// build/, Release, then stages what Node loads:
//   native/ouroboros_core.<triple>.node
//   native/kernels/<triple>/{reference,reference_twin,rows,rows_twin}.so
//   native/kernels/<triple>/{node_reference_v1,node_reference_v2}.node
//
// No Node headers are downloaded: package.json's "binary.napi_versions" makes
// cmake-js build against the installed node-api-headers and node-addon-api.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { packageBin } from './package-bin.mjs';
import { targetTriple } from './target-triple.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const buildDir = join(root, 'build');
// cmake-js puts shared objects in <out>/<config>.
const artifactDir = join(buildDir, 'Release');
const cmakeJs = packageBin(root, 'cmake-js', 'cmake-js');

function fail(message) {
  console.error(`build-core: ${message}`);
  process.exit(1);
}

function checkPrerequisites() {
  if (!cmakeJs) fail('the package cmake-js is not installed: run npm install in a clone (it is a devDependency)');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  if (!pkg.binary?.napi_versions) {
    fail('package.json has no binary.napi_versions: cmake-js would download Node headers ' + 'instead of using node-api-headers');
  }
}

function cmakeJsRun(command) {
  const args = [command, '--directory', root, '--out', buildDir, '--config', 'Release'];
  const result = spawnSync(process.execPath, [cmakeJs, ...args], { stdio: 'inherit' });
  if (result.error) fail(`could not run cmake-js ${command}: ${result.error.message}`);
  if (result.status !== 0) {
    const how = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.status}`;
    fail(`cmake-js ${command} ${how}; the compiler or CMake output above says why`);
  }
}

// Copy then rename: a process that has the old file mapped keeps its inode,
// where overwriting in place could crash it.
function stage(from, to) {
  if (!existsSync(from)) fail(`the build did not produce ${from}`);
  mkdirSync(dirname(to), { recursive: true });
  const partial = `${to}.${process.pid}.partial`;
  copyFileSync(from, partial);
  renameSync(partial, to);
  console.log(`build-core: staged ${to}`);
}

const startMs = Date.now();
checkPrerequisites();
// Configure every time, so the include paths cmake-js passes (node-api-headers,
// node-addon-api) follow whatever is installed now.
cmakeJsRun('configure');
cmakeJsRun('build');

const triple = targetTriple();
stage(join(artifactDir, 'ouroboros_core.node'), join(root, 'native', `ouroboros_core.${triple}.node`));
// reference and rows are the kernels; the twins are the same code under another
// name, which hot-swap tests and `bench swap` swap between.
for (const kernel of ['reference', 'reference_twin', 'rows', 'rows_twin']) {
  stage(join(artifactDir, `${kernel}.so`), join(root, 'native', 'kernels', triple, `${kernel}.so`));
}
// Two versions of a `.node` kernel addon (reference math, different names),
// which the .node hot-swap shim's tests load and swap between.
for (const addon of ['node_reference_v1', 'node_reference_v2']) {
  stage(join(artifactDir, `${addon}.node`), join(root, 'native', 'kernels', triple, `${addon}.node`));
}
console.log(`build-core: done in ${((Date.now() - startMs) / 1000).toFixed(1)} s`);
