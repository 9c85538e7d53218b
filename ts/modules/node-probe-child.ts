/**
 * The child side of the `.node` probe: `node node-probe-child.js <addon>`.
 *
 * Loads the addon as Node does (process.dlopen, which runs its N-API
 * initialisation), calls its describe() and checks the answer. Prints one
 * JSON line, a NodeProbeReport. An addon whose initialisation crashes or
 * hangs kills this process only; the parent reports that.
 */
import process from 'node:process';
import { type NodeKernelDescription, nodeKernelDefect } from './node-kernel-addon.js';

export interface NodeProbeReport {
  defect: string | null;
  description?: NodeKernelDescription;
}

function probe(file: string): NodeProbeReport {
  const module = { exports: {} as unknown };
  try {
    process.dlopen(module, file);
  } catch (error) {
    return { defect: `Node cannot load it as an addon (${error instanceof Error ? error.message : String(error)})` };
  }
  const defect = nodeKernelDefect(module.exports);
  if (defect !== null) return { defect };
  return { defect: null, description: (module.exports as { describe(): NodeKernelDescription }).describe() };
}

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node-probe-child <addon.node>\n');
  process.exit(2);
}
let report: NodeProbeReport;
try {
  report = probe(file);
} catch (error) {
  report = { defect: error instanceof Error ? error.message : String(error) };
}
process.stdout.write(`${JSON.stringify(report)}\n`);
