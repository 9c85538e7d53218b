/**
 * The HTML report of a run: one self-contained file (inline CSS and SVG, no
 * script, no external asset, nothing fetched) with the summary, plots of
 * MLUPS and energy drift over time, the lineage tree, every attempt with the
 * gate that stopped it and why, and the ledger with its verification.
 */
import type { AttemptRecord, LedgerEntry, LedgerVerification } from '../archive/types.js';
import type { EngineSample } from '../engine/events.js';
import { escapeHtml } from './escape.js';
import { formatDrift, formatMlups, formatSpeedup, shortHash } from './format.js';
import { type ChartMarker, lineChart } from './line-chart.js';
import { STATUS_COLORS, lineageTree } from './lineage-tree.js';
import type { RunSummary } from './run-summary.js';
import { summaryRows } from './summary-rows.js';

export interface ReportInput {
  title: string;
  generatedAt: string;
  /** What ran (lattice, generator, archive, ...), shown as given. */
  settings: Readonly<Record<string, string>>;
  summary: RunSummary;
  samples: readonly EngineSample[];
  /** Every record to draw and list, the reference kernel's root included. */
  records: readonly AttemptRecord[];
  ledger: readonly LedgerEntry[];
  verification: LedgerVerification;
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1180px; color: #222; padding: 0 16px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 8px 0; } th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.chart text, .lineage text { font-size: 11px; fill: #333; } .axis { stroke: #555; } .grid { stroke: #eee; }
.chart-title { font-size: 13px; font-weight: 600; }
.scroll { overflow-x: auto; border: 1px solid #eee; }
.edge { stroke: #bbb; stroke-width: 1; } .edge.path { stroke: #2e9e44; stroke-width: 3.5; }
.node { stroke: #fff; stroke-width: 1; } .node.live { stroke: #000; stroke-width: 2; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 6px; margin: 0 3px 0 10px; vertical-align: -1px; }
.swatch.path { background: #2e9e44; border-radius: 0; height: 4px; width: 18px; vertical-align: 2px; }
.status { display: inline-block; padding: 0 6px; border-radius: 3px; color: #fff; }
.verdict.ok { color: #1f6b30; font-weight: 600; } .verdict.bad { color: #b00020; font-weight: 600; }
tr.bad td { background: #fde8e8; }
pre { background: #f8f8f8; padding: 8px; overflow-x: auto; max-height: 420px; }
.empty { color: #777; font-style: italic; }
`;

function table(headers: readonly string[], rows: readonly string[][], rowClasses: readonly string[] = []): string {
  const head = `<tr>${headers.map((header) => `<th>${escapeHtml(header)}</th>`).join('')}</tr>`;
  const body = rows.map((cells, i) => `<tr${rowClasses[i] ? ` class="${rowClasses[i]}"` : ''}>${cells.join('')}</tr>`);
  return `<table>\n${head}\n${body.join('\n')}\n</table>`;
}

function cell(text: unknown): string {
  return `<td>${escapeHtml(text)}</td>`;
}

function numberCell(text: string): string {
  return `<td class="num">${escapeHtml(text)}</td>`;
}

function summarySection(input: ReportInput): string {
  const rows = summaryRows(input.summary).map(([label, value]) => [cell(label), numberCell(value)]);
  const settings = Object.entries(input.settings).map(([key, value]) => [cell(key), cell(value)]);
  return [
    '<h2 id="summary">Summary</h2>',
    table(['figure', 'value'], rows),
    '<h2 id="settings">Run</h2>',
    table(['setting', 'value'], settings),
  ].join('\n');
}

/** The time of the first sample at or after `step`, in seconds, for drawing a ledger entry on the time axis. */
function secondsAtStep(samples: readonly EngineSample[], step: number): number | null {
  const sample = samples.find((s) => s.step >= step);
  return sample === undefined ? null : sample.atMs / 1e3;
}

function ledgerMarkers(input: ReportInput): ChartMarker[] {
  const markers: ChartMarker[] = [];
  for (const entry of input.ledger) {
    const x = secondsAtStep(input.samples, entry.atStep);
    if (x === null) continue;
    markers.push({
      x,
      label: `#${entry.sequence} ${entry.action} ${entry.slot} at step ${entry.atStep}${entry.attemptId === null ? '' : ` (attempt ${entry.attemptId})`}`,
      // A trial that was not kept leaves its candidate passed, not applied.
      color: entry.action === 'rollback' ? STATUS_COLORS['rolled-back'] : entry.action === 'trial' ? STATUS_COLORS.passed : STATUS_COLORS.applied,
    });
  }
  return markers;
}

function plotsSection(input: ReportInput): string {
  const markers = ledgerMarkers(input);
  const mlups = lineChart({
    title: 'Live throughput (dashed: ledger changes)',
    xLabel: 'seconds since start',
    yLabel: 'MLUPS',
    series: [{ name: 'MLUPS', color: '#1f77b4', points: input.samples.map((s) => [s.atMs / 1e3, s.mlups] as const) }],
    markers,
    formatY: (y) => y.toFixed(0),
  });
  const drift = lineChart({
    title: 'Energy drift |E - E0| / E0',
    xLabel: 'seconds since start',
    yLabel: 'drift (log)',
    series: [{ name: 'energy drift', color: '#d62728', points: input.samples.map((s) => [s.atMs / 1e3, s.energyDrift] as const) }],
    markers,
    yScale: 'log',
    formatY: (y) => y.toExponential(0),
  });
  return ['<h2 id="plots">Throughput and energy</h2>', mlups, drift].join('\n');
}

function statusBadge(record: AttemptRecord): string {
  return `<span class="status" style="background:${STATUS_COLORS[record.status]}">${escapeHtml(record.status)}</span>`;
}

function attemptRow(record: AttemptRecord): string[] {
  const source =
    `<details><summary>${escapeHtml(`${record.source.length} chars, sha256 ${shortHash(record.sourceSha256)}`)}</summary>` +
    `<pre>${escapeHtml(record.source)}</pre>` +
    (record.genome === null ? '' : `<pre>${escapeHtml(JSON.stringify(record.genome, null, 1))}</pre>`) +
    (record.prompt === null ? '' : `<pre>${escapeHtml(record.prompt)}</pre>`) +
    '</details>';
  return [
    numberCell(String(record.id)),
    numberCell(record.parentId === null ? '-' : String(record.parentId)),
    cell(record.slot),
    cell(`${record.generator} ${record.operator}`),
    `<td>${statusBadge(record)}</td>`,
    cell(record.failedGate ?? ''),
    cell(record.reason),
    numberCell(record.benchRatio === null ? '' : record.benchRatio.toFixed(3)),
    numberCell(record.speedup === null ? '' : formatSpeedup(record.speedup)),
    numberCell(record.liveMlups === null ? '' : formatMlups(record.liveMlups)),
    `<td>${source}</td>`,
  ];
}

function attemptsSection(input: ReportInput): string {
  const records = [...input.records].sort((a, b) => a.id - b.id);
  return [
    '<h2 id="lineage">Lineage</h2>',
    lineageTree(records),
    '<h2 id="attempts">Attempts</h2>',
    records.length === 0
      ? '<p class="empty">No attempts.</p>'
      : table(
          ['id', 'parent', 'slot', 'generator', 'status', 'failed gate', 'reason', 'bench ratio', 'speedup', 'live MLUPS', 'source'],
          records.map(attemptRow),
        ),
  ].join('\n');
}

function ledgerSection(input: ReportInput): string {
  const { verification } = input;
  const verdict = verification.ok
    ? `<p class="verdict ok">Hash chain verified: ${verification.entries} entries, none edited, removed or reordered.</p>`
    : `<p class="verdict bad">Hash chain broken at entry ${verification.firstBad!.sequence}: ${escapeHtml(verification.firstBad!.reason)}</p>`;
  const badSequence = verification.firstBad?.sequence;
  const rows = input.ledger.map((entry) => [
    numberCell(String(entry.sequence)),
    cell(entry.action),
    cell(entry.slot),
    numberCell(entry.attemptId === null ? '-' : String(entry.attemptId)),
    cell(shortHash(entry.previousModuleSha256)),
    cell(shortHash(entry.moduleSha256)),
    numberCell(String(entry.atStep)),
    cell(entry.reason),
    cell(entry.recordedAt),
    cell(shortHash(entry.hash)),
  ]);
  return [
    '<h2 id="ledger">Ledger</h2>',
    verdict,
    input.ledger.length === 0
      ? '<p class="empty">The ledger is empty: nothing was applied.</p>'
      : table(
          ['#', 'action', 'slot', 'attempt', 'from module', 'to module', 'at step', 'reason', 'recorded', 'hash'],
          rows,
          input.ledger.map((entry) => (entry.sequence === badSequence ? 'bad' : '')),
        ),
  ].join('\n');
}

export function renderReport(input: ReportInput): string {
  const { summary } = input;
  const headline =
    `${formatMlups(summary.baselineMlups)} to ${formatMlups(summary.finalMlups)} MLUPS (${formatSpeedup(summary.speedup)}), ` +
    `${summary.attempts} attempts, ${summary.applied} applied, ${summary.rolledBack} rolled back, ` +
    `max energy drift ${formatDrift(summary.maxEnergyDrift)}`;
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    // No script and nothing loaded from anywhere, even if a string escaped escaping.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    `<title>${escapeHtml(input.title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(input.title)}</h1>`,
    `<p>${escapeHtml(headline)}. Generated ${escapeHtml(input.generatedAt)}.</p>`,
    summarySection(input),
    plotsSection(input),
    attemptsSection(input),
    ledgerSection(input),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
