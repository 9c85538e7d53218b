/**
 * The HTML report of a run: one self-contained file (inline CSS and SVG, no
 * script, no external asset, nothing fetched) with the summary, plots of
 * MLUPS and energy drift over time, the lineage tree, every attempt with the
 * gate that stopped it and why, and the ledger with its verification.
 */
import type { AttemptRecord, LedgerEntry, LedgerVerification, RunSample } from '../archive/types.js';
import { escapeHtml } from './escape.js';
import { formatDrift, formatMlups, formatSpeedup, shortHash } from './format.js';
import { type ChartMarker, lineChart } from './line-chart.js';
import { SKIPPED_BY_PREDICTOR } from '../engine/attempt-runner.js';
import { SLOTS } from '../lattice/lattice.js';
import { SKIPPED_COLOR, STATUS_COLORS, lineageTree } from './lineage-tree.js';
import { ceilingSegments } from './run-samples.js';
import { type RunSummary, changesLiveKernel } from './run-summary.js';
import { summaryRows } from './summary-rows.js';

export interface ReportInput {
  title: string;
  generatedAt: string;
  /** What ran (lattice, generator, archive, ...), shown as given. */
  settings: Readonly<Record<string, string>>;
  summary: RunSummary;
  /** Each with the in-cache ceiling known when it was taken. */
  samples: readonly RunSample[];
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
.band { fill: #bf8700; fill-opacity: 0.15; }
.table-scroll { overflow-x: auto; } td.genome { overflow-wrap: anywhere; font-family: monospace; font-size: 12px; } .explain { color: #555; font-size: 13px; max-width: 900px; }
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
  return ['<h2 id="summary">Summary</h2>', table(['figure', 'value'], rows), '<h2 id="settings">Run</h2>', table(['setting', 'value'], settings)].join('\n');
}

/** The time of the first sample at or after `step`, in seconds, for drawing a ledger entry on the time axis. */
function secondsAtStep(samples: readonly RunSample[], step: number): number | null {
  const sample = samples.find((s) => s.step >= step);
  return sample === undefined ? null : sample.atMs / 1e3;
}

function ledgerMarkers(input: ReportInput): ChartMarker[] {
  const markers: ChartMarker[] = [];
  // Approval decisions change nothing live: the apply entry that follows an approval is the marker.
  for (const entry of input.ledger.filter(changesLiveKernel)) {
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
  const xs = input.samples.map((s) => s.atMs / 1e3);
  const flat = (name: string, color: string, value: number | null) =>
    value === null || value <= 0 || xs.length === 0
      ? []
      : [
          {
            name,
            color,
            points: [
              [xs[0]!, value],
              [xs.at(-1)!, value],
            ] as const,
          },
        ];
  const { rooflineMlups, baselineMlups } = input.summary;
  const ceilings = ceilingSegments(input.samples);
  const inCache = ceilings.map(({ fromSeconds, toSeconds, mlups }) => ({
    name: 'in-cache ceiling',
    color: '#8250df',
    points: [
      [fromSeconds, mlups],
      [toSeconds, mlups],
    ] as const,
  }));
  const mlups = lineChart({
    title: 'Live throughput (dashed: ledger changes; shaded: lattice held for benchmarks)',
    xLabel: 'seconds since start',
    yLabel: 'MLUPS (log)',
    series: [
      { name: 'live MLUPS', color: '#1f77b4', points: input.samples.filter((s) => s.mlups > 0).map((s) => [s.atMs / 1e3, s.mlups] as const) },
      ...flat('baseline', '#777777', baselineMlups),
      ...flat('roofline (memory bandwidth)', '#d62728', rooflineMlups),
      ...inCache,
    ],
    markers,
    bands: heldBands(input.samples),
    // Logarithmic: the roofline is often ten times the live rate, and both must stay readable.
    yScale: 'log',
    formatY: (y) => (y >= 1 ? y.toFixed(0) : y.toPrecision(1)),
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
  const inCacheNote =
    ceilings.length === 0
      ? 'The in-cache ceiling was not measured in this run (the economy measures it for each live step kernel when the roofline bounds the gain), so it is not drawn. '
      : "The in-cache ceiling is the live step kernel's rate on a lattice that fits in cache, drawn while that kernel was live and its ceiling known: " +
        'a kernel that fuses steps can pass the roofline, not this ceiling. ';
  const note =
    '<p class="explain">The roofline is the rate memory bandwidth allows (a STREAM triad over the lattice\'s own memory). ' +
    escapeHtml(inCacheNote) +
    "The baseline is the reference kernel's rate before any attempt ran.</p>";
  return ['<h2 id="plots">Throughput and energy</h2>', mlups, note, drift].join('\n');
}

/** The sampling intervals during which the lattice was held (benchmarks), as shaded ranges. */
function heldBands(samples: readonly RunSample[]): { from: number; to: number; label: string }[] {
  return samples
    .filter((s) => s.heldMs > 0)
    .map((s) => ({ from: (s.atMs - s.intervalMs) / 1e3, to: s.atMs / 1e3, label: `held ${s.heldMs.toFixed(0)} ms of ${s.intervalMs.toFixed(0)} ms` }));
}

function statusBadge(record: AttemptRecord): string {
  const label = readableStatus(record);
  const color = label === 'skipped' ? SKIPPED_COLOR : STATUS_COLORS[record.status];
  return `<span class="status" style="background:${color}">${escapeHtml(label)}</span>`;
}

/** "reference kernel" for a root, the generator alone when it used no operator, else both. */
function generatorText(record: AttemptRecord): string {
  if (record.parentId === null) return 'reference kernel';
  return record.operator === 'none' || record.operator === record.generator ? record.generator : `${record.generator} ${record.operator}`;
}

/** How the ledger names a kernel: by its attempt and what made it, not by a hash. */
function kernelName(byId: ReadonlyMap<number, AttemptRecord>, attemptId: number | null): string {
  if (attemptId === null) return 'reference kernel';
  const record = byId.get(attemptId);
  return record === undefined
    ? `attempt #${attemptId}`
    : record.parentId === null
      ? `reference kernel (#${attemptId})`
      : `#${attemptId} ${generatorText(record)}`;
}

/** The row's first cell carries the anchor the lineage's nodes link to. */
function attemptRow(record: AttemptRecord): string[] {
  const source =
    `<details><summary>${escapeHtml(`${record.source.length} chars, sha256 ${shortHash(record.sourceSha256)}`)}</summary>` +
    `<pre>${escapeHtml(record.source)}</pre>` +
    (record.genome === null ? '' : `<pre>${escapeHtml(JSON.stringify(record.genome, null, 1))}</pre>`) +
    (record.prompt === null ? '' : `<pre>${escapeHtml(record.prompt)}</pre>`) +
    (record.rawReply === null ? '' : `<pre>${escapeHtml(record.rawReply)}</pre>`) +
    '</details>';
  return [
    `<td class="num" id="attempt-${record.id}">${record.id}</td>`,
    numberCell(record.parentId === null ? '-' : String(record.parentId)),
    cell(record.slot),
    cell(generatorText(record)),
    `<td>${statusBadge(record)}</td>`,
    cell(record.failedGate ?? ''),
    cell(record.reason),
    numberCell(record.benchRatio === null ? '' : record.benchRatio.toFixed(3)),
    numberCell(record.speedup === null ? '' : formatSpeedup(record.speedup)),
    numberCell(record.liveMlups === null ? '' : formatMlups(record.liveMlups)),
    `<td>${source}</td>`,
  ];
}

const ATTEMPT_COLUMNS_EXPLAINED =
  '<p class="explain"><b>bench ratio</b>: the candidate\'s median time over the incumbent\'s in the sandbox benchmark, ' +
  'against the kernel live when it was judged (below 1 is faster). <b>speedup</b>: over the reference kernel, the score parent ' +
  "selection uses: the gauntlet's estimate, replaced by what an applied kernel measured live. <b>skipped</b>: the predictor " +
  'judged it unlikely to win and it never reached the gauntlet. <b>passed, not applied</b>: every gate passed but it was not ' +
  'faster than the live kernel (or the run ended first); the reason says which.</p>';

/** The kernel live in each slot when the run ended, with its genome and source. */
function liveKernelsSection(input: ReportInput): string {
  const byId = new Map(input.records.map((record) => [record.id, record]));
  const rows = SLOTS.map((slot) => {
    const last = input.ledger.filter((entry) => entry.slot === slot && changesLiveKernel(entry)).at(-1);
    const record = last === undefined ? input.records.find((r) => r.slot === slot && r.parentId === null) : byId.get(last.attemptId ?? -1);
    if (record === undefined) return [cell(slot), cell('not in this report'), cell(''), cell('')];
    const source = `<details><summary>${escapeHtml(`${record.source.length} chars`)}</summary><pre>${escapeHtml(record.source)}</pre></details>`;
    const genome = record.genome === null ? 'none (hand-written)' : JSON.stringify(record.genome);
    return [cell(slot), cell(kernelName(byId, record.id)), `<td class="genome">${escapeHtml(genome)}</td>`, `<td>${source}</td>`];
  });
  return ['<h2 id="live">Live kernels at the end</h2>', `<div class="table-scroll">${table(['slot', 'kernel', 'genome', 'source'], rows)}</div>`].join('\n');
}

/** A predictor skip is "skipped", not "rejected"; "passed" that was not applied says so. */
export function readableStatus(record: AttemptRecord): string {
  if (record.status === 'rejected' && record.reason.startsWith(SKIPPED_BY_PREDICTOR)) return 'skipped';
  if (record.status === 'passed') return 'passed, not applied';
  return record.status;
}

function attemptsSection(input: ReportInput): string {
  const records = [...input.records].sort((a, b) => a.id - b.id);
  return [
    '<h2 id="lineage">Lineage</h2>',
    lineageTree(records),
    '<h2 id="attempts">Attempts</h2>',
    ATTEMPT_COLUMNS_EXPLAINED,
    records.length === 0
      ? '<p class="empty">No attempts.</p>'
      : `<div class="table-scroll">${table(
          ['id', 'parent', 'slot', 'generator', 'status', 'failed gate', 'reason', 'bench ratio', 'speedup', 'live MLUPS', 'source'],
          records.map(attemptRow),
        )}</div>`,
  ].join('\n');
}

function ledgerSection(input: ReportInput): string {
  const { verification } = input;
  const verdict = verification.ok
    ? `<p class="verdict ok">Hash chain verified: ${verification.entries} entries, none edited, removed or reordered.</p>`
    : `<p class="verdict bad">Hash chain broken at entry ${verification.firstBad!.sequence}: ${escapeHtml(verification.firstBad!.reason)}</p>`;
  const badSequence = verification.firstBad?.sequence;
  const byId = new Map(input.records.map((record) => [record.id, record]));
  const rows = input.ledger.map((entry) => [
    numberCell(String(entry.sequence)),
    cell(entry.action),
    cell(entry.slot),
    cell(kernelName(byId, entry.attemptId)),
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
          ['#', 'action', 'slot', 'kernel', 'from module', 'to module', 'at step', 'reason', 'recorded', 'hash'],
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
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // No script and nothing loaded from anywhere, even if a string escaped escaping.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    `<title>${escapeHtml(input.title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(input.title)}</h1>`,
    `<p>${escapeHtml(headline)}. Generated ${escapeHtml(input.generatedAt)}.</p>`,
    summarySection(input),
    liveKernelsSection(input),
    plotsSection(input),
    attemptsSection(input),
    ledgerSection(input),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
