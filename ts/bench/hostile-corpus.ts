/**
 * The hostile corpus in tests/fixtures/hostile/: one loader for its manifest,
 * used by `ouroboros bench sandbox` and by the suites that send the corpus
 * through the gauntlet (tests/gauntlet-hostile.test.ts) or load its entries
 * live (tests/watchdog-hostile.test.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../native/loader.js';

/** What a candidate asks of the gauntlet beside its source: where it aims, and the lattice and runner it shows itself on. */
export interface CandidateSettings {
  targetPath?: string;
  /** Threads the runner lends it (a kernel hostile only on a pool thread needs two; default the machine's). */
  threads?: number;
  /** The live lattice's extents, where the candidate shows itself only at a size (default [128, 128]). */
  targetExtents?: number[];
  /** The live lattice's precision, where the candidate shows itself only in one (default f64). */
  precision?: 'f64' | 'f32';
  /** The live runner's steps per kernel call, where the candidate shows itself only when batched (default 1). */
  stepsPerCall?: number;
  /** The live lattice's r^2, where the candidate shows itself only at a user's round value (default drawn). */
  liveCourant2?: number;
  /** The slot it is judged for, where it is hostile in its readout (default step). */
  slot?: 'step' | 'readout';
  /** Timed incumbent samples, where the candidate shows itself only when timed alone (the incumbent's times known; default all). */
  incumbentSamples?: number;
}

/** One entry of the manifest: the fixture, the gate that must stop it and why. */
export interface HostileEntry extends CandidateSettings {
  file: string;
  gate: string;
  why: string;
}

/** A candidate as the gauntlet is given it. */
export interface CorpusCandidate {
  name: string;
  source: string;
  /** The gate that must reject it (hostile candidates only). */
  expectedGate?: string;
  settings: CandidateSettings;
}

export const hostileDir = path.join(packageRoot, 'tests', 'fixtures', 'hostile');

/** Every entry of the manifest, by name, the watchdog's included. */
export function hostileManifest(): Record<string, HostileEntry> {
  return JSON.parse(readFileSync(path.join(hostileDir, 'manifest.json'), 'utf8')) as Record<string, HostileEntry>;
}

/**
 * The entries the gauntlet must stop, with their sources: the watchdog's cheat only live, where the watchdog's suite
 * loads them, and those of gate "none" are disarmed rather than stopped (their manifest line says by what and which
 * test shows it).
 */
export function gauntletHostileCorpus(): CorpusCandidate[] {
  return Object.entries(hostileManifest())
    .filter(([, entry]) => entry.gate !== 'watchdog' && entry.gate !== 'none')
    .map(([name, { file, gate, why: _why, ...settings }]) => ({
      name,
      source: readFileSync(path.join(hostileDir, file), 'utf8'),
      expectedGate: gate,
      settings,
    }));
}
