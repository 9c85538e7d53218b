#!/usr/bin/env node
// `npm run ui:screenshots`: runs a short real `ouroboros run --ui` on a small
// lattice, opens its dashboard in Debian's Chromium (playwright-core) and
// writes a screenshot of each page to bench/results/ui/, then stops the run
// from the dashboard and takes the HTML report it wrote too, and the
// finished run's dashboard (`ouroboros ui --archive`) charting the samples
// the run kept. Set OUROBOROS_CHROMIUM to use another Chromium.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'bench', 'results', 'ui');
const scratch = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-ui-screenshots-'));
/** Attempts to wait for before the pages are taken: enough for a lineage with branches. */
const ATTEMPTS_WANTED = 3;
/** The run's own limit: the script stops it sooner, once the pages are taken. */
const RUN_LIMIT = '10m';
const POLL_MS = 3_000;
/** How long to wait for an attempt in the gauntlet before taking the overview anyway. */
const GATE_WAIT_MS = 120_000;

const archive = path.join(scratch, 'archive.sqlite');

/** Runs the CLI with `args`; `url` resolves to the dashboard URL it prints. */
function startDashboardCommand(args) {
  const child = spawn(process.execPath, [path.join(root, 'bin', 'ouroboros.js'), ...args], { cwd: scratch, stdio: ['ignore', 'ignore', 'pipe'] });
  const url = new Promise((resolve, reject) => {
    let text = '';
    child.stderr.on('data', (chunk) => {
      text += chunk;
      const match = /open (http\S+)/.exec(text);
      if (match) resolve(match[1]);
    });
    child.on('exit', (code) => reject(new Error(`ouroboros ${args[0]} exited (${code}) before printing the dashboard URL:\n${text}`)));
  });
  return { child, url };
}

const exited = (child) => new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));

const { child, url } = startDashboardCommand([
  'run',
  '--ui',
  '--lattice',
  '512x512',
  '--duration',
  RUN_LIMIT,
  '--archive',
  archive,
  '--report',
  path.join(scratch, 'report.html'),
]);
let stopped = false;
const browser = await chromium.launch({ executablePath: process.env.OUROBOROS_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  mkdirSync(out, { recursive: true });
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('dialog', (dialog) => void dialog.accept());
  await page.goto(await url);
  await page.waitForSelector('body[data-ready="true"]');
  process.stderr.write(`waiting for ${ATTEMPTS_WANTED} attempts to finish...\n`);
  const finished = () =>
    page.evaluate(() =>
      fetch('/api/state')
        .then((r) => r.json())
        .then((s) => s.records.filter((r) => r.parentId !== null && r.status !== 'pending').length),
    );
  // A script, not a test: it looks every few seconds until the run has something to show.
  while ((await finished()) < ATTEMPTS_WANTED) await page.waitForTimeout(POLL_MS);
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]');
  // The overview is best taken with an attempt in the gauntlet, its gates showing; a run between attempts is shown as it is.
  await page
    .waitForSelector('#in-flight td.where:text("gauntlet:")', { timeout: GATE_WAIT_MS })
    .catch(() => process.stderr.write(`no attempt was in the gauntlet within ${GATE_WAIT_MS / 1000} s: the overview shows none\n`));
  const shots = [];
  const shoot = async (name) => {
    const file = path.join(out, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    shots.push(file);
  };
  await shoot('overview');
  await page.click('nav a[data-page="lineage"]');
  await shoot('lineage');
  const last = await page.evaluate(() =>
    fetch('/api/state')
      .then((r) => r.json())
      .then((s) => s.records.filter((r) => r.parentId !== null).at(-1).id),
  );
  await page.click(`#lineage g.node[data-id="${last}"]`);
  await page.waitForSelector('#attempt-title');
  await shoot('attempt');
  await page.click('nav a[data-page="ledger"]');
  await shoot('ledger');
  await page.setViewportSize({ width: 420, height: 900 });
  await page.click('nav a[data-page="overview"]');
  await shoot('overview-narrow');
  await page.setViewportSize({ width: 1280, height: 1000 });
  await page.click('#stop');
  stopped = true;
  await exited(child);
  await page.goto(`file://${path.join(scratch, 'report.html')}`);
  await shoot('report');
  const finishedRun = startDashboardCommand(['ui', '--archive', archive]);
  try {
    await page.goto(await finishedRun.url);
    await page.waitForSelector('body[data-ready="true"]');
    await shoot('archive');
  } finally {
    finishedRun.child.kill('SIGINT');
    await exited(finishedRun.child);
  }
  process.stdout.write(`${shots.join('\n')}\n`);
} finally {
  await browser.close();
  if (!stopped) child.kill('SIGINT');
  await exited(child);
}
