/**
 * A test's hand on a real `ouroboros run`. When OUROBOROS_TEST_ENGINE_DEPS
 * names an ES module, its default export, given the run's lattice, returns
 * EngineDeps to add (an injected gauntlet, generator or window measure), so
 * that a test drives the real CLI process to a decision it chose instead of
 * one a live benchmark makes on a loaded machine (tests/cli-run.test.ts).
 * Nothing else sets it; unset, the run is exactly as without this file. It
 * gives no power NODE_OPTIONS's --import does not already give.
 */
import path from 'node:path';
import process from 'node:process';
import { pathToFileURL } from 'node:url';
import type { EngineDeps } from '../engine/engine.js';
import type { Lattice } from '../lattice/lattice.js';

export const TEST_ENGINE_DEPS_VARIABLE = 'OUROBOROS_TEST_ENGINE_DEPS';

export async function testEngineDeps(lattice: Lattice): Promise<Partial<EngineDeps>> {
  const file = process.env[TEST_ENGINE_DEPS_VARIABLE];
  if (file === undefined || file === '') return {};
  const hooks = (await import(pathToFileURL(path.resolve(file)).href)) as { default?: unknown };
  if (typeof hooks.default !== 'function') throw new Error(`${TEST_ENGINE_DEPS_VARIABLE}=${file}: its default export must be a function of the lattice`);
  return (hooks.default as (lattice: Lattice) => Partial<EngineDeps>)(lattice);
}
