/**
 * `ouroboros check candidate.cpp [--slot step] [--threads n] [--json]`: runs
 * one candidate kernel through the whole gauntlet and prints each gate's verdict.
 * Exits 0 when the candidate is accepted, 1 when a gate rejects it.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { MAX_THREADS } from '../gauntlet/options.js';
import { evaluateCandidate } from '../gauntlet/pipeline.js';
import { closeSharedGauntletPool } from '../gauntlet/pool.js';
import type { GauntletVerdict } from '../gauntlet/types.js';
import { parseInteger } from './parse.js';
import { FileReadError, readBoundedText } from '../util/bounded-read.js';
import { MAX_SOURCE_BYTES } from '../gauntlet/patch-gate.js';
import { UsageError } from './usage-error.js';

export function formatVerdict(file: string, verdict: GauntletVerdict): string {
  const lines = [
    `${file}: ${verdict.accepted ? (verdict.improves ? 'accepted, faster than the incumbent' : 'accepted, not faster') : `rejected by the ${verdict.failedGate} gate`}`,
  ];
  for (const gate of verdict.gates) {
    lines.push(`  ${gate.passed ? 'pass' : 'FAIL'}  ${gate.gate.padEnd(8)} ${gate.seconds.toFixed(2).padStart(6)} s  ${gate.reason}`.trimEnd());
  }
  if (verdict.safetyScore !== null) lines.push(`  safety score ${verdict.safetyScore}`);
  for (const lattice of verdict.benchmark?.lattices ?? []) {
    lines.push(
      `  bench ${lattice.lattice} [${lattice.extents.join(', ')}]: ratio ${lattice.ratio.toFixed(3)} ` +
        `(95% CI ${lattice.ratioLow.toFixed(3)}-${lattice.ratioHigh.toFixed(3)}, p = ${lattice.pValue.toExponential(1)}): ${lattice.verdict}`,
    );
  }
  const layers = verdict.isolation.map((layer) => `${layer.name}${layer.active ? '' : ' (off)'}`);
  if (layers.length > 0) lines.push(`  isolation: ${layers.join(', ')}`);
  return lines.join('\n');
}

function threadCount(value: string): number {
  const threads = parseInteger(value);
  if (threads < 1 || threads > MAX_THREADS) throw new InvalidArgumentError(`${value} is out of range: must be an integer in [1, ${MAX_THREADS}].`);
  return threads;
}

/**
 * What `check` reads of a candidate: four times the patch gate's limit, so
 * that a source somewhat too long still gets the gate's verdict, while
 * /dev/zero or a FIFO is refused before anything is read.
 */
const MAX_CANDIDATE_FILE_BYTES = 4 * MAX_SOURCE_BYTES;

function readCandidate(file: string): string {
  try {
    return readBoundedText('<candidate>', file, MAX_CANDIDATE_FILE_BYTES);
  } catch (error) {
    if (error instanceof FileReadError) throw new UsageError(error.message);
    throw error;
  }
}

export function checkCommand(): Command {
  return new Command('check')
    .description("run a candidate kernel through the gauntlet and print each gate's verdict")
    .argument('<candidate>', 'C++ source of a kernel module implementing the kernel ABI')
    .addOption(new Option('--slot <slot>', 'which kernel function the candidate competes on').choices(['step', 'readout']).default('step'))
    .option('--threads <n>', 'threads the sandbox lends the candidate (default: available parallelism)', threadCount)
    .option('--json', 'print the verdict as one JSON object')
    .action(async (file: string, options: { slot: 'step' | 'readout'; threads?: number; json?: boolean }) => {
      const source = readCandidate(file);
      const verdict = await evaluateCandidate({ source, slot: options.slot, threads: options.threads }).finally(closeSharedGauntletPool);
      console.log(options.json ? JSON.stringify(verdict) : formatVerdict(file, verdict));
      if (!verdict.accepted) {
        const reason = verdict.gates.at(-1)?.reason ?? '';
        throw new Error(`${file} was rejected by the ${verdict.failedGate} gate: ${reason}`);
      }
    });
}
