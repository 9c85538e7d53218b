// The dashboard's gate, rule by rule, without a server: the one-time token,
// the session cookie, the Host check, the CSRF check and the rate limit of
// failed token attempts (with an injected clock).
import { describe, expect, it } from 'vitest';
import { Archive, IN_MEMORY } from '../dist/ts/archive/index.js';
import { ApprovalDesk } from '../dist/ts/ui/approval-desk.js';
import { lineDiff } from '../dist/ts/ui/line-diff.js';
import { CSRF_HEADER, DashboardGate, FAILURE_WINDOW_MS, MAX_FAILED_ATTEMPTS, SESSION_COOKIE, parseCookies, type RequestFacts } from '../dist/ts/ui/security.js';
import { DashboardSetupError, startDashboard } from '../dist/ts/ui/server.js';
import { archiveDashboard } from '../dist/ts/ui/dashboard-data.js';

const HOST = '127.0.0.1:4000';

function gate(now = () => 0, log: string[] = []): DashboardGate {
  return new DashboardGate({
    allowedHosts: [HOST, 'localhost:4000'],
    allowedOrigins: [`http://${HOST}`, 'http://localhost:4000'],
    now,
    log: (line) => log.push(line),
  });
}

function facts(overrides: Partial<RequestFacts>): RequestFacts {
  return {
    method: 'GET',
    host: HOST,
    cookie: undefined,
    urlToken: undefined,
    origin: undefined,
    secFetchSite: undefined,
    csrf: undefined,
    clientAddress: '127.0.0.1',
    ...overrides,
  };
}

function withSession(g: DashboardGate, overrides: Partial<RequestFacts> = {}): RequestFacts {
  return facts({ cookie: `other=1; ${SESSION_COOKIE}=${g.session}`, ...overrides });
}

describe('DashboardGate', () => {
  it('exchanges the URL token once for a session cookie that is HttpOnly and SameSite=Strict', () => {
    const g = gate();
    const token = g.oneTimeToken!;
    expect(g.check(facts({ urlToken: token }))).toEqual({ refusal: null, exchange: true });
    expect(g.oneTimeToken).toBeNull();
    expect(g.sessionCookie(false)).toBe(`${SESSION_COOKIE}=${g.session}; Path=/; HttpOnly; SameSite=Strict`);
    // Spent: the same URL again is refused.
    expect(g.check(facts({ urlToken: token })).refusal?.status).toBe(401);
    expect(g.check(withSession(g))).toEqual({ refusal: null, exchange: false });
  });

  it('refuses a request without the session or with a wrong token', () => {
    const g = gate();
    expect(g.check(facts({})).refusal?.status).toBe(401);
    expect(g.check(facts({ urlToken: 'f'.repeat(64) })).refusal?.status).toBe(401);
    expect(g.check(facts({ cookie: `${SESSION_COOKIE}=${'0'.repeat(64)}` })).refusal?.status).toBe(401);
  });

  it('refuses a Host other than the address it listens on, even with the session (DNS rebinding)', () => {
    const g = gate();
    expect(g.check(withSession(g, { host: 'evil.example:4000' })).refusal).toMatchObject({ status: 403 });
    expect(g.check(withSession(g, { host: '127.0.0.1:4001' })).refusal).toMatchObject({ status: 403 });
    expect(g.check(withSession(g, { host: undefined })).refusal).toMatchObject({ status: 403 });
    expect(g.check(withSession(g, { host: 'LOCALHOST:4000' })).refusal).toBeNull();
  });

  it('lets a change through only with the CSRF header, from its own origin', () => {
    const g = gate();
    const post = (overrides: Partial<RequestFacts>) => g.check(withSession(g, { method: 'POST', ...overrides })).refusal;
    expect(post({ csrf: g.csrfToken, origin: `http://${HOST}`, secFetchSite: 'same-origin' })).toBeNull();
    expect(post({ origin: `http://${HOST}` })).toMatchObject({ status: 403, reason: `a change needs the page's ${CSRF_HEADER} header` });
    expect(post({ csrf: g.csrfToken, origin: 'http://evil.example' })).toMatchObject({ status: 403 });
    expect(post({ csrf: g.csrfToken, secFetchSite: 'cross-site' })).toMatchObject({ status: 403 });
    // A token in the URL never authorises a change, even unspent.
    expect(g.check(facts({ method: 'POST', urlToken: g.oneTimeToken!, csrf: g.csrfToken })).refusal?.status).toBe(401);
  });

  it('rate-limits failed token attempts per address, logs them, and forgets them after the window', () => {
    let nowMs = 0;
    const log: string[] = [];
    const g = gate(() => nowMs, log);
    for (let i = 0; i < MAX_FAILED_ATTEMPTS; i++) expect(g.check(facts({ urlToken: 'x' })).refusal?.status).toBe(401);
    expect(g.check(facts({ urlToken: 'x' })).refusal?.status).toBe(429);
    // Even the right token waits out the window: guessing must not pay.
    expect(g.check(facts({ urlToken: g.oneTimeToken! })).refusal?.status).toBe(429);
    expect(g.check(facts({ urlToken: 'x', clientAddress: '127.0.0.2' })).refusal?.status).toBe(401);
    expect(log.filter((line) => line.includes('refused a wrong or spent token from 127.0.0.1'))).toHaveLength(MAX_FAILED_ATTEMPTS);
    expect(log.some((line) => line.includes('127.0.0.1 refused: more than'))).toBe(true);
    nowMs += FAILURE_WINDOW_MS + 1;
    expect(g.check(facts({ urlToken: g.oneTimeToken! }))).toEqual({ refusal: null, exchange: true });
  });

  it('parses cookies, the first of a repeated name winning', () => {
    expect(parseCookies(' a=1; b = 2 ;a=3; junk')).toEqual({ a: '1', b: '2' });
    expect(parseCookies(undefined)).toEqual({});
  });
});

describe('startDashboard', () => {
  it('refuses a non-loopback address without TLS or --insecure', async () => {
    const archive = Archive.open(IN_MEMORY);
    try {
      await expect(startDashboard({ data: archiveDashboard(archive), host: '0.0.0.0', log: () => undefined })).rejects.toThrow(DashboardSetupError);
      await expect(startDashboard({ data: archiveDashboard(archive), host: '0.0.0.0', log: () => undefined })).rejects.toThrow('needs TLS');
    } finally {
      archive.close();
    }
  });
});

describe('ApprovalDesk', () => {
  const request = (attemptId: number) => ({ attemptId, slot: 'step' as const, parentId: 1, incumbentId: 1, benchRatio: 0.5, speedup: 2, evidence: '' });

  it('holds a candidate until a decision; off, it lets candidates go unattended; the stop answers null', async () => {
    const desk = new ApprovalDesk(true);
    const controller = new AbortController();
    const first = desk.approver(request(7), controller.signal);
    expect(desk.waiting().map((r) => r.attemptId)).toEqual([7]);
    expect(desk.decide(8, 'approve', 'me')).toBe(false);
    expect(desk.decide(7, 'reject', 'me')).toBe(true);
    await expect(first).resolves.toEqual({ decision: 'reject', decidedBy: 'me' });
    const second = desk.approver(request(9), controller.signal);
    desk.setEnabled(false);
    await expect(second).resolves.toBe('unattended');
    await expect(desk.approver(request(10), controller.signal)).resolves.toBe('unattended');
    desk.setEnabled(true);
    const third = desk.approver(request(11), controller.signal);
    controller.abort();
    await expect(third).resolves.toBeNull();
    expect(desk.waiting()).toEqual([]);
  });
});

describe('lineDiff', () => {
  it('keeps common lines and marks the removed and added ones in order', () => {
    expect(lineDiff('a\nb\nc', 'a\nx\nc\nd')).toEqual([
      { kind: 'same', text: 'a' },
      { kind: 'removed', text: 'b' },
      { kind: 'added', text: 'x' },
      { kind: 'same', text: 'c' },
      { kind: 'added', text: 'd' },
    ]);
  });
});
