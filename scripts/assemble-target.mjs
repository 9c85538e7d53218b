// Assembles the per-target package @ouroboros-engine/core-<triple> from a
// build's native/ folder: the core, oracle and segment addons, the shipped
// kernels, the sandbox runner and gatekeeper, and the kernel host. Its
// manifest is npm/<triple>/package.json; the version is the main package's.
//
//   node scripts/assemble-target.mjs [--out <dir>]
//
// Without --out it fills npm/<triple>/ in place (ready for `npm publish
// npm/<triple>`); with --out it writes a complete package folder there.
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { targetTriple } from './target-triple.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** What the package holds, relative to native/ and to the package folder alike (the loader searches both the same way). */
export function targetFiles(triple) {
  return [
    `ouroboros_core.${triple}.node`,
    `ouroboros_oracle.${triple}.node`,
    `ouroboros_segment.${triple}.node`,
    `kernels/${triple}`,
    `sandbox/${triple}`,
    `kernel-host/${triple}`,
  ];
}

export function assembleTarget({ triple = targetTriple(), out } = {}) {
  const manifestDir = path.join(root, 'npm', triple);
  const manifestFile = path.join(manifestDir, 'package.json');
  if (!existsSync(manifestFile)) throw new Error(`no per-target manifest for ${triple}: ${manifestFile} is missing`);
  const nativeDir = path.join(root, 'native');
  const files = targetFiles(triple);
  const missing = files.filter((file) => !existsSync(path.join(nativeDir, file)));
  if (missing.length > 0) {
    throw new Error(`native/ lacks ${missing.join(', ')}: run \`npm run build\` first`);
  }
  const dest = path.resolve(out ?? manifestDir);
  mkdirSync(dest, { recursive: true });
  for (const file of files) cpSync(path.join(nativeDir, file), path.join(dest, file), { recursive: true });
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
  manifest.version = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version;
  writeFileSync(path.join(dest, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return dest;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  try {
    console.log(`assemble-target: ${assembleTarget({ out: values.out })}`);
  } catch (error) {
    console.error(`assemble-target: ${error.message}`);
    process.exit(1);
  }
}
