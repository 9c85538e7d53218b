import { describe, expect, it } from 'vitest';
import type { AttemptRecord, LedgerEntry, LedgerVerification, RunSample } from '../dist/ts/archive/types.js';
import { attemptRecord } from './helpers/attempt-record.js';
import type { EngineSample } from '../dist/ts/engine/events.js';
import { readableStatus, renderReport } from '../dist/ts/report/render-report.js';
import { SKIPPED_BY_PREDICTOR } from '../dist/ts/engine/attempt-runner.js';
import { ceilingSegments, runSample } from '../dist/ts/report/run-samples.js';
import { summarizeRun } from '../dist/ts/report/run-summary.js';
import { formatSummaryTable } from '../dist/ts/report/summary-rows.js';

const HOSTILE_SOURCE = '</pre></details><script>alert("source")</script>\n// "quoted" & \'single\'';
const HOSTILE_REASON = '<img src=x onerror=alert(1)>';
const HOSTILE_GENERATOR = '"><svg onload=alert(2)>';

function record(id: number, parentId: number | null, fields: Partial<AttemptRecord>): AttemptRecord {
  return attemptRecord({
    id,
    parentId,
    operator: 'mutate:tile',
    genome: { tile: 64 },
    source: `// kernel ${id}`,
    sourceSha256: 'a'.repeat(64),
    createdAt: '2026-11-22T05:00:00.000Z',
    finishedAt: '2026-11-22T05:00:10.000Z',
    ...fields,
  });
}

const records: AttemptRecord[] = [
  record(1, null, { generator: 'reference', operator: 'root', status: 'applied', speedup: 1, genome: null }),
  record(2, 1, { status: 'rejected', failedGate: 'static', reason: HOSTILE_REASON, source: HOSTILE_SOURCE }),
  record(3, 1, { status: 'superseded', speedup: 2.5, benchRatio: 0.4 }),
  record(4, 3, { status: 'rejected', failedGate: 'bench', reason: 'not faster', generator: HOSTILE_GENERATOR }),
  record(5, 3, { status: 'applied', speedup: 3.9, benchRatio: 0.64, liveMlups: 310 }),
  record(6, 5, { status: 'rolled-back', speedup: 4.1, reason: 'throughput fell 12% in the watch window' }),
  record(7, 5, { status: 'rejected', failedGate: 'bench', reason: 'indistinguishable' }),
];

function entry(sequence: number, fields: Partial<LedgerEntry>): LedgerEntry {
  return {
    sequence,
    action: 'apply',
    slot: 'step',
    attemptId: null,
    moduleSha256: `${sequence}`.repeat(64).slice(0, 64),
    previousModuleSha256: `${sequence - 1}`.repeat(64).slice(0, 64),
    atStep: 0,
    reason: '',
    recordedAt: '2026-11-22T05:01:00.000Z',
    previousHash: '0'.repeat(64),
    hash: `h${sequence}`.padEnd(64, 'f'),
    ...fields,
  };
}

const ledger: LedgerEntry[] = [
  entry(1, { attemptId: 3, atStep: 400 }),
  entry(2, { attemptId: 5, atStep: 800 }),
  entry(3, { attemptId: 6, atStep: 1000 }),
  entry(4, { action: 'rollback', attemptId: 6, atStep: 1200, reason: '<b>regression</b>' }),
];

function sample(atMs: number, step: number, mlups: number, energyDrift: number, heldMs = 0): EngineSample {
  return { atMs, step, mlups, intervalMs: 1000, heldMs, energyDrift, liveModules: { step: 'reference', readout: 'reference' } };
}

const samples: EngineSample[] = [
  sample(1000, 100, 80, 1e-15),
  sample(2000, 200, 84, 2e-15),
  // A watchdog restore moved the counter back: no speed figure for this interval.
  sample(2500, 150, 0, 2e-15),
  sample(3000, 300, 82, 0),
  sample(4000, 600, 200, 3e-15),
  sample(5000, 1000, 330, 4e-14),
  sample(6000, 1300, 300, 5e-15),
  sample(7000, 1600, 310, 2e-15),
  // Held for a benchmark most of the interval: it measured the search, not the kernel.
  sample(7500, 1650, 50, 2e-15, 400),
  sample(8000, 1900, 320, 1e-15),
];

const verified: LedgerVerification = { ok: true, entries: 4, firstBad: null };

function facts() {
  return { records, ledger, samples, rooflineMlups: 1000, lostSteps: 0, wallSeconds: 9.5, netMlups: 150.25, heldSeconds: 0.4, firstApplyAtSeconds: 3.5 };
}

/** The samples as the run keeps them: with no in-cache ceiling known, unless `inCache` gives each one's. */
function runSamples(inCache: (sample: EngineSample, index: number) => number | null = () => null): RunSample[] {
  return samples.map((sample, index) => runSample(sample, inCache(sample, index)));
}

function report(verification: LedgerVerification = verified, kept: RunSample[] = runSamples()): string {
  const summary = summarizeRun(facts());
  return renderReport({
    title: 'Ouroboros run <test>',
    generatedAt: '2026-11-22T05:02:00.000Z',
    settings: { lattice: '64 x 64 f64', archive: '/tmp/"archive".db' },
    summary,
    samples: kept,
    records,
    ledger,
    verification,
  });
}

/** Every tag in the page: escaping must leave only the renderer's own. */
function tags(html: string): { name: string; attributes: string[] }[] {
  return [...html.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9-]*)([^>]*)>/g)].map((match) => ({
    name: match[1]!.toLowerCase(),
    attributes: [...match[2]!.matchAll(/([a-zA-Z-]+)=/g)].map((attribute) => attribute[1]!.toLowerCase()),
  }));
}

describe('summarizeRun', () => {
  it('takes every figure from the records, the ledger and the samples', () => {
    const summary = summarizeRun(facts());
    // Samples up to the first change (step 400) vs after the last (step 1200), the 0 MLUPS and the held one left out.
    expect(summary.baselineMlups).toBe(82);
    expect(summary.finalMlups).toBe(310);
    expect(summary.speedup).toBe(310 / 82);
    expect(summary.rooflineFraction).toBe(0.31);
    expect(summary.liveKernelMlups).toBe(250);
    expect(summary).toMatchObject({ netMlups: 150.25, heldSeconds: 0.4, firstApplyAtSeconds: 3.5 });
    // Net over the final kernels' free-running rate (the samples after the last change).
    expect(summary.netFraction).toBe(150.25 / 310);
    expect(summary.economy).toBeNull();
    expect(summary.attempts).toBe(6);
    expect(summary.byStatus).toEqual({ pending: 0, rejected: 3, failed: 0, passed: 0, applied: 1, 'rolled-back': 1, superseded: 1, interrupted: 0 });
    expect(summary.applied).toBe(3);
    expect(summary.rolledBack).toBe(1);
    expect(summary.rejectedByGate).toEqual({ static: 1, bench: 2 });
    expect(summary.maxEnergyDrift).toBe(4e-14);
    expect(summary.lostSteps).toBe(0);
    expect(summary.steps).toBe(1800);
    // Best speedup that held 3.9 (attempt 6 was rolled back); 90% of it is first reached by attempt 5, the 4th attempt.
    expect(summary.evaluationsToNinetyPercent).toBe(4);
  });

  it('uses every sample for both ends when nothing changed, and reports no speedup without samples', () => {
    const still = summarizeRun({ ...facts(), ledger: [] });
    expect(still.baselineMlups).toBe(still.finalMlups);
    const empty = summarizeRun({ ...facts(), samples: [] });
    expect(empty.baselineMlups).toBeNull();
    expect(empty.speedup).toBeNull();
    expect(empty.maxEnergyDrift).toBeNull();
  });

  it('prints the same figures as a plain table', () => {
    const table = formatSummaryTable(summarizeRun(facts()));
    expect(table).toMatch(/^net MLUPS +150\.3 \(steps advanced x cells \/ wall time\)$/m);
    expect(table).toMatch(/^live kernel MLUPS +250\.0 \(median while not held\)$/m);
    expect(table).toMatch(/^net fraction +48\.5% \(net MLUPS \/ final MLUPS\)$/m);
    expect(table).toMatch(/^held for benchmarks +0\.4 s$/m);
    expect(table).toMatch(/^first change applied +at 3\.5 s$/m);
    expect(table).toMatch(/^baseline MLUPS +82\.0$/m);
    expect(table).toMatch(/^final MLUPS +310\.0$/m);
    expect(table).toMatch(/^speedup +3\.78x$/m);
    expect(table).toMatch(/^roofline fraction +31\.0% of 1000\.0 MLUPS$/m);
    expect(table).toMatch(/^rejected by gate +static 1, bench 2$/m);
    expect(table).toMatch(/^max energy drift +4\.00e-14$/m);
    expect(table).toMatch(/^lost steps +0$/m);
  });
});

describe('renderReport', () => {
  it('is one self-contained page: no script, no external reference, only its own tags', () => {
    const html = report();
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    const allowed = new Set([
      'html',
      'head',
      'meta',
      'title',
      'style',
      'body',
      'h1',
      'h2',
      'p',
      'table',
      'tr',
      'th',
      'td',
      'span',
      'details',
      'summary',
      'pre',
      'div',
      'svg',
      'line',
      'polyline',
      'circle',
      'text',
      'g',
      'rect',
      'a',
      'b',
    ]);
    const found = tags(html);
    expect(found.filter((tag) => !allowed.has(tag.name))).toEqual([]);
    const attributes = new Set(found.flatMap((tag) => tag.attributes));
    for (const forbidden of ['src', 'xlink:href', 'action', 'onerror', 'onload']) expect(attributes.has(forbidden)).toBe(false);
    // The only links are the lineage's, to rows of the same page.
    const links = [...html.matchAll(/href="([^"]*)"/g)].map((match) => match[1]!);
    expect(links).toHaveLength(records.length);
    for (const link of links) expect(html).toContain(`id="${link.slice(1)}"`);
    expect([...attributes].filter((name) => name.startsWith('on'))).toEqual([]);
    expect(html).not.toMatch(/url\(|@import/);
    for (const id of ['summary', 'plots', 'lineage', 'attempts', 'ledger']) expect(html).toContain(`<h2 id="${id}">`);
  });

  it('escapes every string from the archive', () => {
    const html = report();
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('&lt;/pre&gt;&lt;/details&gt;&lt;script&gt;alert(&quot;source&quot;)&lt;/script&gt;');
    expect(html).toContain('// &quot;quoted&quot; &amp; &#39;single&#39;');
    expect(html).toContain('&quot;&gt;&lt;svg onload=alert(2)&gt;');
    expect(html).toContain('&lt;b&gt;regression&lt;/b&gt;');
    expect(html).toContain('<title>Ouroboros run &lt;test&gt;</title>');
    expect(html).toContain('/tmp/&quot;archive&quot;.db');
    // Exactly the renderer's own svg elements: two charts and the lineage.
    expect([...html.matchAll(/<svg /g)]).toHaveLength(3);
  });

  it('shows the summary figures, one point per sample and one node per record', () => {
    const html = report();
    expect(html).toContain('<td>speedup</td><td class="num">3.78x</td>');
    expect(html).toContain('<td>attempts</td><td class="num">6</td>');
    expect(html).toContain('<td>applied</td><td class="num">3</td>');
    expect(html).toContain('<td>rolled back</td><td class="num">1</td>');
    expect(html).toContain('<td>rejected by gate</td><td class="num">static 1, bench 2</td>');
    expect(html).toContain('<td>max energy drift</td><td class="num">4.00e-14</td>');
    const polylines = [...html.matchAll(/<polyline[^>]* points="([^"]*)"/g)].map((match) => match[1]!.split(' ').length);
    // Throughput on a log axis (the sample without a speed figure left out), the baseline and roofline lines, then the drift.
    expect(polylines).toEqual([samples.filter((s) => s.mlups > 0).length, 2, 2, samples.length]);
    // One sample was held for a benchmark: one shaded band.
    expect([...html.matchAll(/class="band"/g)]).toHaveLength(1);
    expect([...html.matchAll(/<circle /g)]).toHaveLength(records.length);
    // Ledger changes drawn on both charts: four entries, each at a sampled step.
    expect([...html.matchAll(/class="marker"/g)]).toHaveLength(2 * ledger.length);
  });

  it('draws the in-cache ceiling while each step kernel had one known, and says when none was', () => {
    // Unknown for the first two samples, 900 for the next three, unknown again (a new kernel), then 1400 for the rest.
    const ceiling = (_sample: EngineSample, index: number) => (index < 2 ? null : index < 5 ? 900 : index === 5 ? null : 1400);
    const kept = runSamples(ceiling);
    expect(ceilingSegments(kept)).toEqual([
      { fromSeconds: 1.5, toSeconds: 4, mlups: 900 },
      { fromSeconds: 5, toSeconds: 8, mlups: 1400 },
    ]);
    const html = report(verified, kept);
    const lines = [...html.matchAll(/<polyline[^>]* points="([^"]*)"/g)].map((match) => match[1]!.split(' ').length);
    // Throughput, baseline, roofline, then one flat piece per known ceiling, then the drift.
    expect(lines).toEqual([samples.filter((s) => s.mlups > 0).length, 2, 2, 2, 2, samples.length]);
    expect([...html.matchAll(/>in-cache ceiling<\/text>/g)]).toHaveLength(1);
    expect(html).toContain('The in-cache ceiling is the live step kernel');

    const without = report();
    expect(without).not.toContain('>in-cache ceiling</text>');
    expect(without).toContain('The in-cache ceiling was not measured in this run');
  });

  it('explains its columns, names ledger entries by kernel, shows the live kernels and labels every lineage node', () => {
    const html = report();
    expect(html).toContain('<b>bench ratio</b>: the candidate');
    expect(html).toContain('<b>speedup</b>: over the reference kernel');
    expect(html).toContain('<h2 id="live">Live kernels at the end</h2>');
    expect(html).toContain('<th>kernel</th>');
    expect(html).not.toContain('reference reference');
    for (const record of records) expect(html).toMatch(new RegExp(`<text [^>]*>${record.id}</text></a>`));
  });

  it('calls a predictor skip skipped and a pass that was not applied what it is', () => {
    const base = records[1]!;
    expect(readableStatus({ ...base, status: 'rejected', reason: `${SKIPPED_BY_PREDICTOR}: win probability 0.010 < 0.05 after 30 outcomes` })).toBe('skipped');
    expect(readableStatus({ ...base, status: 'rejected', reason: 'static: uses goto' })).toBe('rejected');
    expect(readableStatus({ ...base, status: 'passed', reason: 'not faster than attempt 3' })).toBe('passed, not applied');
    expect(readableStatus({ ...base, status: 'applied', reason: '' })).toBe('applied');
  });

  it('draws the lineage with the path from the live attempt to the reference highlighted', () => {
    const html = report();
    // Attempt 5 is live: edges 1 -> 3 and 3 -> 5 are the applied path.
    expect([...html.matchAll(/class="edge path"/g)]).toHaveLength(2);
    expect([...html.matchAll(/class="edge"/g)]).toHaveLength(records.length - 1 - 2);
    expect([...html.matchAll(/class="node live"/g)]).toHaveLength(4);
  });

  it('states the ledger verification, naming the first bad entry when the chain is broken', () => {
    expect(report()).toContain('Hash chain verified: 4 entries');
    const broken = report({ ok: false, entries: 4, firstBad: { sequence: 3, reason: 'hash <mismatch>' } });
    expect(broken).toContain('Hash chain broken at entry 3: hash &lt;mismatch&gt;');
    expect([...broken.matchAll(/<tr class="bad">/g)]).toHaveLength(1);
    expect(broken).not.toContain('Hash chain verified');
  });
});
