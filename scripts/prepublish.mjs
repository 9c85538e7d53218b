// Adds one optional dependency per platform package in npm/ to the main
// package's manifest, at the main package's version: the release job runs it
// on its checkout just before `npm publish` (as napi-rs's `napi pre-publish`
// does). npm then installs only the platform package whose os/cpu/libc match.
//
// The committed package.json does not list them: until a version of each is
// published, the lock file cannot resolve them and `npm ci` in a clone would
// refuse to run.
//
//   node scripts/prepublish.mjs [--manifest <package.json>]
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

const { values } = parseArgs({ options: { manifest: { type: 'string' } } });
const manifestFile = path.resolve(values.manifest ?? path.join(root, 'package.json'));
const manifest = readJson(manifestFile);
const targetsDir = path.join(root, 'npm');
const targets = readdirSync(targetsDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => readJson(path.join(targetsDir, entry.name, 'package.json')).name)
  .sort();
manifest.optionalDependencies = Object.fromEntries(targets.map((name) => [name, manifest.version]));
writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`prepublish: ${manifestFile} depends optionally on ${targets.join(', ')} at ${manifest.version}`);
