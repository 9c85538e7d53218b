// A finished run's dashboard (`ouroboros ui --archive`) in a real browser
// (Debian's Chromium, driven by playwright-core): the charts draw the
// samples the archive kept of the run, with its held periods shaded and the
// in-cache ceiling where it was known. The samples are injected through the
// archive's API, so which periods were held is the test's choice. Every
// wait is for a DOM state, never a sleep.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Archive } from '../dist/ts/archive/index.js';
import type { RunSample } from '../dist/ts/archive/types.js';
import { archiveDashboard } from '../dist/ts/ui/dashboard-data.js';
import { type DashboardServer, startDashboard } from '../dist/ts/ui/server.js';
const CHROMIUM = process.env.OUROBOROS_CHROMIUM ?? '/usr/bin/chromium';

const root = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-ui-archive-browser-'));
const SAMPLES = 30;
/** Samples 10, 11 and 12 were held for a benchmark. */
const HELD = new Set([10, 11, 12]);
/** The ceiling was measured from sample 15 on. */
const CEILING_FROM = 15;

let archive: Archive;
let server: DashboardServer;
let browser: Browser;
let page: Page;

function sample(index: number): RunSample {
  return {
    atMs: (index + 1) * 1000,
    step: (index + 1) * 40,
    mlups: HELD.has(index) ? 60 : 150,
    intervalMs: 1000,
    heldMs: HELD.has(index) ? 500 : 0,
    energyDrift: 1e-15 * (index + 1),
    inCacheMlups: index >= CEILING_FROM ? 2400 : null,
  };
}

beforeAll(async () => {
  archive = Archive.open(path.join(root, 'archive.sqlite'));
  archive.ensureRoot('step', '// reference', 'a'.repeat(64));
  archive.runs.record({
    startedAt: '2026-12-06T10:00:00.000Z',
    finishedAt: '2026-12-06T10:00:31.000Z',
    baselineMlups: 150,
    rooflineMlups: 1800,
    driftTolerance: 1e-6,
    samples: Array.from({ length: SAMPLES }, (_, i) => sample(i)),
  });
  server = await startDashboard({ data: archiveDashboard(archive), log: () => undefined });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  archive?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('the dashboard of a finished run', () => {
  it("draws the run's kept samples, shades its held periods and draws the in-cache ceiling where it was known", async () => {
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready="true"]');
    const chart = page.locator('#chart-mlups');
    expect(await chart.getAttribute('data-points')).toBe(String(SAMPLES));
    expect(await chart.getAttribute('data-held-bands')).toBe(String(HELD.size));
    expect(await chart.getAttribute('data-in-cache-points')).toBe(String(SAMPLES - CEILING_FROM));
    expect(await page.locator('#chart-mlups .u-legend').textContent()).toContain('in-cache ceiling');
    const note = await page.textContent('#mlups-note');
    expect(note).toContain(`Run 1 of 1 in this archive (2026-12-06T10:00:00.000Z to 2026-12-06T10:00:31.000Z): ${SAMPLES} samples kept of ${SAMPLES} taken.`);
    expect(note).toContain('In-cache ceiling (the live step kernel on a lattice that fits in cache) 2400 MLUPS now');
    expect(await page.textContent('#controls')).toContain('a finished run, read only');
  });
});
