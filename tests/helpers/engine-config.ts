/** The engine config the engine suites start from: an engine at test pace on a small lattice. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { type EngineConfig, resolveConfig } from '../../dist/ts/engine/config.js';

/** Top-level keys of the config file; a table given here is merged into the table of that name so far, key by key. */
export type ConfigOverrides = Record<string, unknown>;

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A config whose archive and log live in `root/name` (made here), with the
 * gauntlet's compile cache shared by every config under `root`: one attempt
 * at a time, every 10 ms, on a 160^2 lattice with short watch windows.
 * Each layer of overrides is merged over the ones before it.
 */
export function engineTestConfig(root: string, name: string, ...layers: ConfigOverrides[]): EngineConfig {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  const config: Record<string, unknown> = {
    maxConcurrentImprovements: 1,
    improvementInterval: '10ms',
    sampleInterval: '100ms',
    energyInterval: '250ms',
    archive: { path: path.join(dir, 'archive.sqlite'), warmStart: false },
    lattice: { extents: [160, 160] },
    // Cone probes as far apart as the snapshots, as before the configuration had its own key for them.
    watchdog: { everySteps: 500, coneEverySteps: 500 },
    watch: { window: '300ms', minSteps: 5 },
    canary: { steps: 20 },
    gauntlet: { targetExtents: [128, 128], heldOutExtents: [97, 89], cacheDir: path.join(root, 'gauntlet-cache') },
    log: { file: path.join(dir, 'engine.log') },
  };
  for (const [key, value] of layers.flatMap((layer) => Object.entries(layer))) {
    const base = config[key];
    config[key] = isTable(value) && isTable(base) ? { ...base, ...value } : value;
  }
  return resolveConfig(config);
}
