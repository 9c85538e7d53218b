/** An archive seeded as an earlier run leaves it: a step module applied and remembered as the slot's best, what a warm start starts from. */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { kernelModulePath } from '../../dist/native/loader.js';
import { Archive } from '../../dist/ts/archive/index.js';
import type { MachineFingerprint } from '../../dist/ts/archive/types.js';
import type { EngineConfig } from '../../dist/ts/engine/config.js';
import { fileSha256 } from '../../dist/ts/engine/live-changes.js';
import { hardenedCompile } from '../../dist/ts/gauntlet/compile.js';

const REFERENCE_SOURCE = readFileSync('cpp/kernels/reference.cpp', 'utf8');

/**
 * Builds `source` by the hardened compile into the config's cache, records
 * it in the config's archive as an applied child of the reference (speedup 3)
 * and remembers it as the step slot's best under `fingerprint`; with
 * `dropModule` the built module is then removed (a warm start must rebuild
 * it). Returns the attempt's id.
 */
export async function rememberStepModule(config: EngineConfig, fingerprint: MachineFingerprint, source: string, dropModule = false): Promise<number> {
  const built = await hardenedCompile(source, {
    includeDir: path.resolve('cpp/include'),
    cacheDir: config.gauntlet.cacheDir,
    useCache: true,
    timeoutMs: 120_000,
  });
  if (!built.passed) throw new Error(`rememberStepModule: the source did not build: ${built.reason}`);
  const modulePath = built.details.modulePath!;
  const archive = Archive.open(config.archive.path);
  try {
    const parent = archive.ensureRoot('step', REFERENCE_SOURCE, fileSha256(kernelModulePath('reference')));
    const attempt = archive.insertAttempt({
      parentId: parent.id,
      slot: 'step',
      generator: 'fixture',
      operator: 'fixture',
      genome: null,
      prompt: null,
      source,
    });
    archive.updateAttempt(attempt.id, { status: 'applied', modulePath, moduleSha256: fileSha256(modulePath), speedup: 3 });
    archive.warmStart.rememberBest('step', attempt.id, fingerprint);
    if (dropModule) rmSync(modulePath);
    return attempt.id;
  } finally {
    archive.close();
  }
}
