// The dashboard in a real browser (Debian's Chromium, driven by
// playwright-core) over a short real run: a small live lattice and a real
// engine whose gauntlet verdicts are injected (EngineDeps.evaluate), so that
// which candidates pass is the test's choice, not the machine's. Every wait
// is for an event or a DOM state, never a sleep.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Archive } from '../dist/ts/archive/index.js';
import { Engine } from '../dist/ts/engine/engine.js';
import { createMainLattice } from '../dist/ts/engine/main-lattice.js';
import { measureSlot } from '../dist/ts/engine/watch.js';
import type { Lattice } from '../dist/ts/lattice/lattice.js';
import { ApprovalDesk } from '../dist/ts/ui/approval-desk.js';
import { LiveDashboard } from '../dist/ts/ui/dashboard-data.js';
import { type DashboardServer, startDashboard } from '../dist/ts/ui/server.js';
import { FixtureGenerator } from './helpers/fixture-generator.js';
import { engineTestConfig } from './helpers/engine-config.js';
import { passedGate, verdict, winningVerdict } from './helpers/verdicts.js';

export const CHROMIUM = process.env.OUROBOROS_CHROMIUM ?? '/usr/bin/chromium';
const root = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-ui-test-'));
const reference = readFileSync('tests/fixtures/variants/reference-copy.cpp', 'utf8');

let lat: Lattice;
let archive: Archive;
let engine: Engine;
let desk: ApprovalDesk;
let server: DashboardServer;
let browser: Browser;
let page: Page;
let stopRequested = false;
/** While set, the injected gauntlet reports its first gates, waits for it, then refuses the candidate at the static gate. */
let gauntletHeld: Promise<void> | null = null;
const refusals: string[] = [];

beforeAll(async () => {
  const config = engineTestConfig(root, 'run');
  lat = createMainLattice(config.lattice);
  archive = Archive.open(config.archive.path);
  desk = new ApprovalDesk(false);
  engine = new Engine(lat, config, {
    archive,
    generator: new FixtureGenerator(reference),
    autoImprove: false,
    trustGeneratedSources: true,
    evaluate: async (_options, onGate) => {
      if (gauntletHeld === null) return winningVerdict();
      onGate?.({ gate: 'patch', state: 'started' });
      onGate?.({ gate: 'patch', state: 'finished', passed: true, reason: '' });
      onGate?.({ gate: 'static', state: 'started' });
      onGate?.({ gate: 'compile', state: 'started' });
      await gauntletHeld;
      onGate?.({ gate: 'static', state: 'finished', passed: false, reason: 'uses goto' });
      const refused = { gate: 'static' as const, passed: false, reason: 'uses goto', details: {}, seconds: 0 };
      return verdict({ accepted: false, failedGate: 'static', gates: [passedGate('patch'), refused] });
    },
    approve: desk.approver,
    // The windows step the lattice for real; the trial's verdict is the test's: rows wins, not the machine's load.
    measureWindow: async (slot, options) => ({ ...(await measureSlot(lat, slot, options)), mlups: lat.slots()[slot].live.name === 'rows' ? 1000 : 100 }),
  });
  await engine.start();
  const data = new LiveDashboard({
    engine,
    archive,
    desk,
    settings: { lattice: '160 x 160' },
    rooflineMlups: 5000,
    remoteEvaluation: false,
    rollback: async (slot) => {
      await engine.rollback(slot, 'requested with the dashboard');
      return `rolled back ${slot}`;
    },
    stop: async () => {
      stopRequested = true;
    },
  });
  server = await startDashboard({ data, log: (line) => refusals.push(line) });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.on('dialog', (dialog) => void dialog.accept());
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await engine?.stop();
  archive?.close();
  lat?.close();
  rmSync(root, { recursive: true, force: true });
});

/** A raw request, with the headers a browser would not let a page set. */
function request(url: string, options: { method?: string; headers?: Record<string, string>; body?: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

async function sessionCookie(): Promise<string> {
  const cookie = (await page.context().cookies()).find((c) => c.name === 'ouroboros_ui')!;
  return `${cookie.name}=${cookie.value}`;
}

describe('the dashboard of a live run', () => {
  it('opens with the one-time token, sets an HttpOnly SameSite=Strict cookie and drops the token from the URL', async () => {
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready="true"]');
    expect(new URL(page.url()).search).toBe('');
    const cookie = (await page.context().cookies()).find((c) => c.name === 'ouroboros_ui');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    // Spent: the printed URL no longer opens a session.
    expect(await request(server.url, {})).toBe(401);
  });

  it('draws the live MLUPS chart and adds the samples that arrive', async () => {
    const points = async () => Number(await page.getAttribute('#chart-mlups', 'data-points'));
    const first = await points();
    await page.waitForFunction((n) => Number(document.querySelector('#chart-mlups')!.getAttribute('data-points')) > n + 2, first);
    expect(await page.locator('#chart-mlups canvas').count()).toBeGreaterThan(0);
    await expect(page.locator('#live [data-slot="step"] summary').textContent()).resolves.toMatch(/^step: reference/);
    // No economy in this run: no ceiling measured, none drawn, and the page says so.
    expect(await page.getAttribute('#chart-mlups', 'data-in-cache-points')).toBe('0');
    expect(await page.textContent('#mlups-note')).toContain('The in-cache ceiling is not known');
  });

  it('shows the gates an attempt in flight is in, as the gauntlet reports them', async () => {
    let release!: () => void;
    gauntletHeld = new Promise((resolve) => (release = resolve));
    try {
      const id = await engine.attemptImprovement({ slot: 'step' });
      const where = `#in-flight tr[data-attempt="${id}"] td.where`;
      await page.waitForSelector(`${where}:text("gauntlet: static + compile (1 passed)")`);
      // Its page lists the gates as reported, before the archive has them.
      await page.click(`#in-flight tr[data-attempt="${id}"] a`);
      await page.waitForSelector(`#attempt-title:text("Attempt #${id}")`);
      const rows = await page.locator('table.gates tr').allTextContents();
      expect(rows.slice(1)).toEqual(['patchpassed', 'staticrunning', 'compilerunning']);
      await page.click('nav a[data-page="overview"]');
      release();
      expect(await engine.attemptFinished(id)).toMatchObject({ status: 'rejected', failedGate: 'static' });
      await page.waitForSelector(where, { state: 'detached' });
    } finally {
      release();
      gauntletHeld = null;
    }
  });

  it('approves one swap and rejects another in approval mode, recorded with who and when', async () => {
    await page.check('#approval-mode');
    await page.waitForFunction(() => (document.querySelector('#approval-mode') as HTMLInputElement | null)?.checked === true);
    expect(desk.enabled).toBe(true);

    const approved = await engine.attemptImprovement({ slot: 'step' });
    await page.waitForSelector(`.approval[data-attempt="${approved}"]`);
    await page.click(`.approval[data-attempt="${approved}"] [data-decide="approve"]`);
    expect((await engine.attemptFinished(approved)).status).toBe('applied');

    const rejected = await engine.attemptImprovement({ slot: 'step' });
    await page.waitForSelector(`.approval[data-attempt="${rejected}"]`);
    await page.click(`.approval[data-attempt="${rejected}"] [data-decide="reject"]`);
    const record = await engine.attemptFinished(rejected);
    expect(record.status).toBe('rejected');
    expect(record.reason).toMatch(/^rejected by .+ \(dashboard, 127\.0\.0\.1\) at \d{4}-.+ in approval mode$/);

    expect(archive.approvals.list().map((a) => [a.attemptId, a.decision])).toEqual([
      [approved, 'approve'],
      [rejected, 'reject'],
    ]);
    const ledger = archive.ledger.entries();
    expect(ledger.map((e) => [e.action, e.attemptId])).toEqual([
      ['approve', approved],
      ['apply', approved],
      ['reject', rejected],
    ]);
    expect(ledger[1]!.reason).toMatch(/^approved by .+ \(dashboard, 127\.0\.0\.1\) at .+; passed the sandbox against attempt/);
    expect(archive.ledger.verify().ok).toBe(true);
  });

  it('opens an attempt from the lineage, with its gates, benchmark and diff against its parent', async () => {
    const id = archive.approvals.list()[0]!.attemptId;
    await page.click('nav a[data-page="lineage"]');
    await page.click(`#lineage g.node[data-id="${id}"]`);
    await page.waitForSelector('#attempt-title');
    expect(await page.textContent('#attempt-title')).toContain(`Attempt #${id}`);
    expect(await page.locator('table.gates tr').count()).toBe(1 + winningVerdict().gates.length);
    expect(await page.locator('.diff .added, .diff .removed').count()).toBeGreaterThan(0);
    expect(await page.textContent('#page-attempt')).toContain('approved');
  });

  it('rolls back the step slot from the overview, recorded in the ledger', async () => {
    await page.click('nav a[data-page="overview"]');
    await page.click('#rollback-step');
    // The kernel's name, not its genome line ("none (the reference kernel)" for every fixture candidate).
    await page.waitForFunction(() => document.querySelector('#live [data-slot="step"] summary')?.textContent?.startsWith('step: reference'));
    expect(archive.ledger.entries().at(-1)).toMatchObject({ action: 'rollback', slot: 'step', reason: 'requested with the dashboard' });
    expect(lat.slots().step.live.name).toBe('reference');
  });

  it('pauses and resumes the engine and the simulation, and asks for the stop', async () => {
    await page.click('#engine-toggle');
    await page.waitForSelector('#engine-toggle:text("Resume engine")');
    expect(engine.paused).toBe(true);
    await page.click('#engine-toggle');
    await page.waitForSelector('#engine-toggle:text("Pause engine")');
    expect(engine.paused).toBe(false);
    await page.click('#sim-toggle');
    await page.waitForSelector('#sim-toggle:text("Resume simulation")');
    expect(lat.paused).toBe(true);
    await page.click('#sim-toggle');
    await page.waitForSelector('#sim-toggle:text("Pause simulation")');
    expect(lat.paused).toBe(false);
    await page.click('#stop');
    await expect.poll(() => stopRequested).toBe(true);
  });

  it('refuses requests without the session, with a wrong Host, or from another site', async () => {
    const base = new URL(server.url).origin;
    const cookie = await sessionCookie();
    const csrf = await page.evaluate(() =>
      fetch('/api/state')
        .then((r) => r.json())
        .then((s) => s.csrf as string),
    );
    expect(await request(`${base}/api/state`, {})).toBe(401);
    expect(await request(`${base}/api/state`, { headers: { cookie } })).toBe(200);
    expect(await request(`${base}/api/state`, { headers: { cookie, host: `rebound.example:${server.port}` } })).toBe(403);
    const post = (headers: Record<string, string>) =>
      request(`${base}/api/control/engine`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json', ...headers },
        body: '{"action":"pause"}',
      });
    expect(await post({ origin: 'http://evil.example', 'x-ouroboros-csrf': csrf })).toBe(403);
    expect(await post({ 'sec-fetch-site': 'cross-site', 'x-ouroboros-csrf': csrf })).toBe(403);
    expect(await post({ origin: base })).toBe(403);
    expect(engine.paused).toBe(false);
    // From another origin in the browser itself: SameSite=Strict keeps the cookie home, so the request has no session.
    const other = await browser.newPage();
    await other.goto('about:blank');
    const outcome = await other.evaluate(
      (url) =>
        fetch(url, { method: 'POST', mode: 'no-cors', body: '{"action":"pause"}' }).then(
          (r) => r.type,
          () => 'blocked',
        ),
      `${base}/api/control/engine`,
    );
    expect(['opaque', 'blocked']).toContain(outcome);
    expect(engine.paused).toBe(false);
    expect(refusals.some((line) => line.includes('refused'))).toBe(true);
  });
});
