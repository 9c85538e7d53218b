// The dashboard page: reads /api/state, follows /api/events (server-sent
// events) and posts the controls with the session's CSRF token. Plain
// script, no build step: it is served as it is, with uPlot beside it.
'use strict';

const STATUS_COLORS = {
  applied: '#1a7f37',
  superseded: '#4ac26b',
  passed: '#0969da',
  rejected: '#cf222e',
  skipped: '#8c959f',
  failed: '#9a6700',
  'rolled-back': '#bc4c00',
  interrupted: '#6e7781',
  pending: '#8250df',
};
let state = null;
let charts = null;
let refreshTimer = null;

const $ = (id) => document.getElementById(id);
const esc = (text) => String(text ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const fixed = (value, digits) => (value === null || value === undefined ? 'n/a' : Number(value).toFixed(digits));

/** A predictor skip is "skipped", not "rejected"; "passed" that was not applied says why. */
function readableStatus(record) {
  if (record.status === 'rejected' && record.reason.startsWith('skipped by the predictor')) return 'skipped';
  if (record.status === 'passed') return 'passed, not applied';
  return record.status;
}
function statusKey(record) {
  return readableStatus(record) === 'skipped' ? 'skipped' : record.status;
}

async function post(route, body) {
  const response = await fetch(route, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-ouroboros-csrf': state.csrf },
    body: JSON.stringify(body ?? {}),
  });
  const reply = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) alert(reply.error ?? response.statusText);
  await refresh();
  return reply;
}

function heldBands(samples) {
  return samples.filter((s) => s.heldMs > 0).map((s) => [(s.atMs - s.intervalMs) / 1000, s.atMs / 1000]);
}

function chartSize(element) {
  return { width: Math.max(element.clientWidth, 200), height: 240 };
}

function makeCharts() {
  const mlupsEl = $('chart-mlups');
  const driftEl = $('chart-drift');
  const bandsPlugin = {
    hooks: {
      drawClear: (u) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.fillStyle = 'rgba(191, 135, 0, 0.15)';
        for (const [from, to] of heldBands(state.samples)) {
          const x0 = u.valToPos(from, 'x', true);
          const x1 = u.valToPos(to, 'x', true);
          ctx.fillRect(x0, u.bbox.top, Math.max(x1 - x0, 1), u.bbox.height);
        }
        ctx.restore();
      },
    },
  };
  const mlups = new uPlot(
    {
      ...chartSize(mlupsEl),
      plugins: [bandsPlugin],
      // Logarithmic: the roofline is often ten times the live rate, and both must stay readable.
      scales: { x: { time: false }, y: { distr: 3 } },
      axes: [{ label: 'seconds since start' }, { label: 'MLUPS (log scale)', size: 70 }],
      series: [
        {},
        { label: 'live MLUPS', stroke: '#0969da', width: 2 },
        { label: 'baseline', stroke: '#6e7781', dash: [6, 4] },
        { label: 'roofline', stroke: '#cf222e', dash: [2, 4] },
        // Per sample: the live step kernel's ceiling when known, a gap where it was not measured.
        { label: 'in-cache ceiling', stroke: '#8250df', dash: [8, 3] },
      ],
    },
    [[], [], [], [], []],
    mlupsEl,
  );
  const drift = new uPlot(
    {
      ...chartSize(driftEl),
      scales: { x: { time: false } },
      axes: [{ label: 'seconds since start' }, { label: 'relative energy drift', size: 80, values: (_u, ticks) => ticks.map((t) => t.toExponential(1)) }],
      series: [{}, { label: 'energy drift', stroke: '#8250df', width: 2 }, { label: 'tolerance', stroke: '#cf222e', dash: [4, 4] }],
    },
    [[], [], []],
    driftEl,
  );
  window.addEventListener('resize', () => {
    mlups.setSize(chartSize(mlupsEl));
    drift.setSize(chartSize(driftEl));
  });
  return { mlups, drift };
}

function drawCharts() {
  if (charts === null) charts = makeCharts();
  const xs = state.samples.map((s) => s.atMs / 1000);
  const repeat = (value) => xs.map(() => value);
  // A log scale has no place for 0 (a sample whose interval was all held): it is left out.
  const inCache = state.samples.map((s) => s.inCacheMlups);
  charts.mlups.setData([xs, state.samples.map((s) => (s.mlups > 0 ? s.mlups : null)), repeat(state.baselineMlups), repeat(state.rooflineMlups), inCache]);
  charts.drift.setData([xs, state.samples.map((s) => s.energyDrift), repeat(state.driftTolerance)]);
  // What the canvas shows, for tests and tools that cannot read pixels.
  const chart = $('chart-mlups');
  chart.dataset.points = String(xs.length);
  chart.dataset.heldBands = String(heldBands(state.samples).length);
  chart.dataset.inCachePoints = String(inCache.filter((v) => v !== null).length);
  $('mlups-note').textContent = mlupsNote(inCache.filter((v) => v !== null).at(-1) ?? null);
}

function mlupsNote(lastCeiling) {
  if (state.samples.length === 0) {
    return state.engine === null
      ? 'No samples: this archive kept none (runs before schema version 4, or one still going when it was copied).'
      : 'No samples yet.';
  }
  const run =
    state.run === null
      ? ''
      : `Run ${state.run.id} of ${state.run.runs} in this archive (${state.run.startedAt} to ${state.run.finishedAt}): ${state.samples.length} samples kept of ${state.run.samplesTaken} taken. `;
  const ceiling =
    lastCeiling === null
      ? 'The in-cache ceiling is not known (the economy measures it for each live step kernel when the roofline bounds the gain), so it is not drawn.'
      : `In-cache ceiling (the live step kernel on a lattice that fits in cache) ${fixed(lastCeiling, 0)} MLUPS now, drawn while known.`;
  return `${run}Shaded: periods the lattice was held for a benchmark. Roofline ${fixed(state.rooflineMlups, 0)} MLUPS (STREAM triad of the lattice's memory). ${ceiling}`;
}

function renderControls() {
  const el = $('controls');
  if (!state.controls || state.engine === null) {
    el.innerHTML = `<span class="note">Archive ${esc(state.archive)}: a finished run, read only.</span>`;
    return;
  }
  const e = state.engine;
  el.innerHTML = `
    <button id="engine-toggle">${e.paused ? 'Resume engine' : 'Pause engine'}</button>
    <button id="sim-toggle">${e.simulationPaused ? 'Resume simulation' : 'Pause simulation'}</button>
    <button id="rollback-step" class="danger">Roll back step</button>
    <button id="rollback-readout" class="danger">Roll back readout</button>
    <label><input type="checkbox" id="approval-mode" ${e.approvalMode ? 'checked' : ''}> approval mode</label>
    <button id="stop" class="danger">Stop run</button>`;
  $('engine-toggle').onclick = () => post('/api/control/engine', { action: e.paused ? 'resume' : 'pause' });
  $('sim-toggle').onclick = () => post('/api/control/simulation', { action: e.simulationPaused ? 'resume' : 'pause' });
  $('rollback-step').onclick = () => post('/api/control/rollback', { slot: 'step' });
  $('rollback-readout').onclick = () => post('/api/control/rollback', { slot: 'readout' });
  $('approval-mode').onchange = (event) => post('/api/control/approval-mode', { enabled: event.target.checked });
  $('stop').onclick = () => confirm('Stop the run?') && post('/api/control/stop');
}

function renderApprovals() {
  $('approvals').innerHTML = state.waiting
    .map(
      (w) => `<div class="approval" data-attempt="${w.attemptId}">
        <strong>Attempt <a href="#attempt/${w.attemptId}">#${w.attemptId}</a> (${esc(w.slot)}) passed every gate and waits for your decision</strong>
        <p>Would replace attempt #${w.incumbentId}. Bench ratio ${fixed(w.benchRatio, 3)} (candidate time over the incumbent's, below 1 is faster);
        speedup ${fixed(w.speedup, 2)}x (estimated against the reference kernel). ${esc(w.evidence)}</p>
        <button class="go" data-decide="approve" data-id="${w.attemptId}">Approve swap</button>
        <button class="danger" data-decide="reject" data-id="${w.attemptId}">Reject</button>
      </div>`,
    )
    .join('');
  for (const button of document.querySelectorAll('[data-decide]')) {
    button.onclick = () => post('/api/approvals', { attemptId: Number(button.dataset.id), decision: button.dataset.decide });
  }
}

function renderOverview() {
  $('run-state').textContent = state.engine === null ? 'finished run' : !state.engine.running ? 'stopped' : state.engine.paused ? 'engine paused' : 'improving';
  renderControls();
  renderApprovals();
  drawCharts();
  $('alerts').innerHTML =
    state.alerts.length === 0
      ? '<li class="none">none so far</li>'
      : state.alerts
          .map((a) => `<li><b>${esc(a.kind)}</b> ${esc(a.at)}: ${esc(a.message)}</li>`)
          .reverse()
          .join('');
  $('in-flight').innerHTML =
    '<tr><th>attempt</th><th>slot</th><th>where</th><th>generator</th></tr>' +
    state.inFlight
      .map(
        (r) =>
          `<tr data-attempt="${r.id}"><td>${r.id > 0 ? `<a href="#attempt/${r.id}">#${r.id}</a>` : 'new'}</td><td>${esc(r.slot)}</td><td class="where">${esc(r.where)}</td><td>${esc(r.generator)}</td></tr>`,
      )
      .join('');
  $('live').innerHTML = state.live
    .map(
      (k) => `<details data-slot="${esc(k.slot)}"><summary><b>${esc(k.slot)}</b>: ${esc(k.name)} (<a href="#attempt/${k.attemptId}">attempt #${k.attemptId}</a>)
        <div class="genome">genome ${esc(k.genome === null ? 'none (the reference kernel)' : JSON.stringify(k.genome))}</div></summary><pre>${esc(k.source)}</pre></details>`,
    )
    .join('');
}

function layoutTree(records) {
  const children = new Map();
  for (const r of records) {
    if (r.parentId === null) continue;
    if (!children.has(r.parentId)) children.set(r.parentId, []);
    children.get(r.parentId).push(r);
  }
  const at = new Map();
  let row = 0;
  const place = (record, depth) => {
    const kids = children.get(record.id) ?? [];
    const rows = [];
    for (const kid of kids) rows.push(place(kid, depth + 1));
    const y = rows.length === 0 ? row++ : (rows[0] + rows[rows.length - 1]) / 2;
    at.set(record.id, { x: depth, y, record });
    return y;
  };
  for (const root of records.filter((r) => r.parentId === null)) place(root, 0);
  return at;
}

function renderLineage() {
  const at = layoutTree(state.records);
  const dx = 90;
  const dy = 22;
  let maxX = 0;
  let maxY = 0;
  let edges = '';
  let nodes = '';
  for (const { x, y, record } of at.values()) {
    maxX = Math.max(maxX, x);
    maxY = Math.max(maxY, y);
    const parent = record.parentId === null ? null : at.get(record.parentId);
    if (parent) edges += `<line x1="${20 + parent.x * dx}" y1="${20 + parent.y * dy}" x2="${20 + x * dx}" y2="${20 + y * dy}" stroke="#afb8c1"/>`;
    const color = STATUS_COLORS[statusKey(record)] ?? '#000';
    nodes += `<g class="node" data-id="${record.id}" onclick="location.hash='attempt/${record.id}'"><title>#${record.id} ${esc(readableStatus(record))}: ${esc(record.reason)}</title>
      <circle cx="${20 + x * dx}" cy="${20 + y * dy}" r="7" fill="${color}"/><text x="${30 + x * dx}" y="${24 + y * dy}">#${record.id}</text></g>`;
  }
  $('lineage').innerHTML = `<svg width="${60 + maxX * dx + 40}" height="${40 + maxY * dy}">${edges}${nodes}</svg>`;
  $('lineage-legend').innerHTML = Object.entries(STATUS_COLORS)
    .map(([status, color]) => `<span><i style="background:${color}"></i>${status}</span>`)
    .join('');
}

function renderLedger() {
  const v = state.verification;
  $('verification').innerHTML = v.ok
    ? `<span class="ok">verified</span>: ${v.entries} entries chain from the genesis hash`
    : `<span class="bad">does not verify</span> at entry ${v.firstBad.sequence}: ${esc(v.firstBad.reason)}`;
  $('ledger').innerHTML =
    '<tr><th>#</th><th>action</th><th>slot</th><th>kernel</th><th>step</th><th>reason</th><th>recorded</th></tr>' +
    state.ledger
      .map(
        (e) =>
          `<tr><td>${e.sequence}</td><td>${esc(e.action)}</td><td>${esc(e.slot)}</td><td>${e.attemptId === null ? 'reference' : `<a href="#attempt/${e.attemptId}">attempt #${e.attemptId}</a>`}</td><td>${e.atStep}</td><td>${esc(e.reason)}</td><td>${esc(e.recordedAt)}</td></tr>`,
      )
      .join('');
}

async function renderAttempt(id) {
  const response = await fetch(`/api/attempts/${id}`);
  const el = $('attempt');
  if (!response.ok) {
    el.innerHTML = `<p class="bad">attempt ${esc(id)} is not in the archive</p>`;
    return;
  }
  const d = await response.json();
  const r = d.record;
  // The archive has an attempt's gates when the gauntlet ends; until then, the gates as they are reported.
  const gates =
    r.gates.length === 0 && d.phase !== null && d.phase.gates.length > 0
      ? d.phase.gates
          .map((g) =>
            g.state === 'started'
              ? `<tr><td>${esc(g.gate)}</td><td class="running">running</td><td></td></tr>`
              : `<tr><td>${esc(g.gate)}</td><td class="${g.passed ? 'ok' : 'bad'}">${g.passed ? 'passed' : 'failed'}</td><td>${esc(g.reason)}</td></tr>`,
          )
          .join('')
      : r.gates
          .map(
            (g) =>
              `<tr><td>${esc(g.gate)}</td><td class="${g.passed ? 'ok' : 'bad'}">${g.passed ? 'passed' : 'failed'}</td><td>${esc(g.reason ?? '')}</td></tr>`,
          )
          .join('');
  const diff =
    d.diff === null
      ? '<p class="note">no parent to compare with</p>'
      : `<div class="diff">${d.diff.map((l) => `<div class="${l.kind}">${l.kind === 'added' ? '+' : l.kind === 'removed' ? '-' : ' '} ${esc(l.text)}</div>`).join('')}</div>`;
  const approval =
    d.approval === null
      ? ''
      : `<p><b>${esc(d.approval.decision === 'approve' ? 'approved' : 'rejected')}</b> by ${esc(d.approval.decidedBy)} at ${esc(d.approval.decidedAt)} (ledger #${d.approval.ledgerSequence})</p>`;
  el.innerHTML = `
    <h2 id="attempt-title">Attempt #${r.id} <small>${esc(r.slot)}, ${esc(readableStatus(r))}</small></h2>
    ${d.waiting ? '<p class="approval">waits for approval: decide on the Overview page</p>' : ''}
    ${approval}
    <p>parent ${d.parent === null ? 'none (the reference kernel)' : `<a href="#attempt/${d.parent.id}">#${d.parent.id}</a>`};
       generator ${esc(r.generator)} / ${esc(r.operator)}; ${d.phase ? `now in ${esc(d.phase.where)}` : ''}</p>
    <p>${esc(r.reason)}</p>
    <p>speedup ${fixed(r.speedup, 2)}x (over the reference kernel) · bench ratio ${fixed(r.benchRatio, 3)} (time over the incumbent's; below 1 is faster) · live ${fixed(r.liveMlups, 1)} MLUPS</p>
    <p>genome <code>${esc(r.genome === null ? 'none' : JSON.stringify(r.genome))}</code></p>
    <h3>Gates</h3><table class="gates"><tr><th>gate</th><th>verdict</th><th>why</th></tr>${gates}</table>
    <h3>Benchmark</h3><pre>${esc(r.benchmark === null ? 'none' : JSON.stringify(r.benchmark, null, 2))}</pre>
    ${r.prompt === null ? '' : `<h3>LLM prompt</h3><pre id="llm-prompt">${esc(r.prompt)}</pre>`}
    ${r.rawReply === null ? '' : `<h3>LLM raw reply</h3><pre id="llm-reply">${esc(r.rawReply)}</pre>`}
    <h3>Diff against the parent</h3>${diff}
    <h3>Source</h3><pre>${esc(r.source)}</pre>
    <h3>Ledger</h3><ul>${d.ledger.map((e) => `<li>#${e.sequence} ${esc(e.action)} at step ${e.atStep}: ${esc(e.reason)}</li>`).join('') || '<li>none</li>'}</ul>`;
}

function currentPage() {
  const hash = location.hash.replace(/^#/, '') || 'overview';
  return hash.startsWith('attempt/') ? { page: 'attempt', id: hash.slice('attempt/'.length) } : { page: hash, id: null };
}

async function render() {
  const { page, id } = currentPage();
  for (const section of document.querySelectorAll('.page')) section.hidden = section.id !== `page-${page}`;
  for (const link of document.querySelectorAll('nav a')) link.classList.toggle('active', link.dataset.page === page);
  if (page === 'overview') renderOverview();
  if (page === 'lineage') renderLineage();
  if (page === 'ledger') renderLedger();
  if (page === 'attempt') await renderAttempt(id);
  document.body.dataset.ready = 'true';
}

async function refresh() {
  const response = await fetch('/api/state');
  state = await response.json();
  await render();
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, 200);
}

function follow() {
  const events = new EventSource('/api/events');
  events.addEventListener('sample', (event) => {
    state.samples.push(JSON.parse(event.data).sample);
    if (currentPage().page === 'overview') drawCharts();
  });
  events.addEventListener('changed', scheduleRefresh);
  events.addEventListener('alert', scheduleRefresh);
}

window.addEventListener('hashchange', render);
refresh().then(follow);
