/**
 * The summary table's rows, label and formatted value: the terminal and the
 * HTML report print exactly these, so they cannot disagree.
 */
import { describeCostSource } from '../engine/economy.js';
import { accountText } from '../engine/run-account.js';
import { GATES } from '../gauntlet/types.js';
import { formatCount, formatDrift, formatFraction, formatMlups, formatSeconds, formatSpeedup } from './format.js';
import type { RunSummary } from './run-summary.js';

export function rejectedByGateText(summary: RunSummary): string {
  const parts = GATES.filter((gate) => (summary.rejectedByGate[gate] ?? 0) > 0).map((gate) => `${gate} ${summary.rejectedByGate[gate]}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

/** What the search cost the live job, in seconds of its stepping, and how often the economy backed off. */
export function economyText(summary: RunSummary): string {
  const economy = summary.economy;
  if (economy === null) return 'n/a (no economy: economy.enabled = false)';
  const ceiling = economy.ceiling === null ? '' : `; gain bounded by the ${economy.ceiling.kind} ceiling of ${formatMlups(economy.ceiling.mlups)} MLUPS`;
  return (
    `${formatSeconds(economy.costSeconds)} of the live job (held, ${formatSeconds(economy.childCpuSeconds)} child CPU, trials` +
    `${economy.reverificationCostSeconds > 0 ? `; ${formatSeconds(economy.reverificationCostSeconds)} of it the warm start's re-verification` : ''}); ` +
    `an attempt judged to cost ${formatSeconds(economy.judgedAttemptCostSeconds)} (${describeCostSource(economy.attemptCostSource)}); ` +
    `backed off ${economy.backoffs}, resumed ${economy.resumes}, ${economy.state} at the end${ceiling}`
  );
}

export function summaryRows(summary: RunSummary): [label: string, value: string][] {
  const rooflineNote = summary.rooflineMlups === null ? '' : ` of ${formatMlups(summary.rooflineMlups)} MLUPS`;
  const firstApply = summary.firstApplyAtSeconds === null ? 'none' : `at ${formatSeconds(summary.firstApplyAtSeconds)}`;
  return [
    ['net MLUPS', `${formatMlups(summary.netMlups)} (steps advanced x cells / wall time)`],
    ['live kernel MLUPS', `${formatMlups(summary.liveKernelMlups)} (median while not held)`],
    ['net fraction', `${formatFraction(summary.netFraction)} (net MLUPS / final MLUPS)`],
    ['search cost', economyText(summary)],
    ['where the time went', summary.account === null ? 'n/a' : accountText(summary.account)],
    ['held for benchmarks', formatSeconds(summary.heldSeconds)],
    ['first change applied', firstApply],
    ['baseline MLUPS', formatMlups(summary.baselineMlups)],
    ['final MLUPS', formatMlups(summary.finalMlups)],
    ['speedup', formatSpeedup(summary.speedup)],
    ['roofline fraction', `${formatFraction(summary.rooflineFraction)}${rooflineNote}`],
    ['attempts', String(summary.attempts)],
    ['applied', String(summary.applied)],
    ['rolled back', String(summary.rolledBack)],
    ['rejected', String(summary.byStatus.rejected)],
    ['rejected by gate', rejectedByGateText(summary)],
    ['failed', String(summary.byStatus.failed)],
    ['passed, not applied', String(summary.byStatus.passed)],
    ['interrupted by the stop', String(summary.byStatus.interrupted)],
    ['max energy drift', formatDrift(summary.maxEnergyDrift)],
    ['lost steps', formatCount(summary.lostSteps)],
    ['steps', String(summary.steps)],
    ['wall time', formatSeconds(summary.wallSeconds)],
  ];
}

/** The rows as an aligned plain-text table. */
export function formatSummaryTable(summary: RunSummary): string {
  const rows = summaryRows(summary);
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}
