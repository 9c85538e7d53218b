/**
 * The dashboard's HTTP server (fastify): the page and its assets, the data
 * as JSON, updates as server-sent events, and the controls as POSTs. Every
 * request passes the DashboardGate first (security.ts). It listens on the
 * loopback address unless told otherwise, and then only with TLS or an
 * explicit `insecure`.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { packageRoot } from '../../native/loader.js';
import { SLOTS } from '../lattice/lattice.js';
import type { DashboardData } from './dashboard-data.js';
import { CSRF_HEADER, DashboardGate } from './security.js';

export const LOOPBACK = '127.0.0.1';
const ASSETS = path.join(packageRoot, 'ts', 'ui', 'assets');
const UPLOT = path.join(packageRoot, 'node_modules', 'uplot', 'dist');
/** Seconds between SSE comments that keep idle proxies and browsers from closing the stream. */
const KEEPALIVE_MS = 15_000;

const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: path.join(ASSETS, 'dashboard.html'), type: 'text/html; charset=utf-8' },
  '/assets/dashboard.js': { file: path.join(ASSETS, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/dashboard.css': { file: path.join(ASSETS, 'dashboard.css'), type: 'text/css; charset=utf-8' },
  '/assets/uplot.js': { file: path.join(UPLOT, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/assets/uplot.css': { file: path.join(UPLOT, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

export interface DashboardServerOptions {
  data: DashboardData;
  /** Default 127.0.0.1. Any other address needs tls or insecure. */
  host?: string;
  /** Default 0: a free port the system picks. */
  port?: number;
  tls?: { key: string; cert: string };
  insecure?: boolean;
  /** Refused tokens, rate limiting and failures: one line each. */
  log: (message: string) => void;
}

export interface DashboardServer {
  /** The URL to open, with the one-time token. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Thrown for a host that needs TLS: the caller turns it into a usage error. */
export class DashboardSetupError extends Error {}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function who(request: FastifyRequest): string {
  return `${os.userInfo().username} (dashboard, ${request.ip})`;
}

function slotOf(value: unknown): (typeof SLOTS)[number] | null {
  return SLOTS.find((slot) => slot === value) ?? null;
}

function routes(app: FastifyInstance, data: DashboardData, gate: DashboardGate): void {
  for (const [route, asset] of Object.entries(STATIC)) {
    const body = readFileSync(asset.file);
    app.get(route, (_request, reply) => reply.type(asset.type).header('cache-control', 'no-store').send(body));
  }
  app.get('/api/state', () => ({ ...data.snapshot(), csrf: gate.csrfToken, controls: data.controls !== null }));
  app.get<{ Params: { id: string } }>('/api/attempts/:id', (request, reply) => {
    const detail = /^\d+$/.test(request.params.id) ? data.attempt(Number(request.params.id)) : null;
    return detail ?? reply.code(404).send({ error: `attempt ${request.params.id} is not in the archive` });
  });
  app.get('/api/events', (request, reply) => streamUpdates(request, reply, data));
  controlRoutes(app, data);
}

function streamUpdates(request: FastifyRequest, reply: FastifyReply, data: DashboardData): void {
  reply.hijack();
  reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  reply.raw.write(': connected\n\n');
  const unsubscribe = data.subscribe((update) => reply.raw.write(`event: ${update.type}\ndata: ${JSON.stringify(update)}\n\n`));
  const keepalive = setInterval(() => reply.raw.write(': keepalive\n\n'), KEEPALIVE_MS);
  request.raw.on('close', () => {
    clearInterval(keepalive);
    unsubscribe();
  });
}

function controlRoutes(app: FastifyInstance, data: DashboardData): void {
  const controls = data.controls;
  const post = <B>(route: string, act: (body: B, request: FastifyRequest) => Promise<unknown> | unknown) =>
    app.post<{ Body: B }>(route, async (request, reply) => {
      if (controls === null) return reply.code(409).send({ error: 'a finished run has no controls: this dashboard reads its archive' });
      try {
        return { ok: true, result: (await act((request.body ?? {}) as B, request)) ?? null };
      } catch (error) {
        return reply.code(409).send({ error: (error as Error).message });
      }
    });
  post<{ action?: string }>('/api/control/engine', ({ action }) => {
    if (action === 'pause') return controls!.pauseEngine();
    if (action === 'resume') return controls!.resumeEngine();
    throw new Error(`action = ${JSON.stringify(action)}: must be "pause" or "resume"`);
  });
  post<{ action?: string }>('/api/control/simulation', ({ action }) => {
    if (action === 'pause') return controls!.pauseSimulation();
    if (action === 'resume') return controls!.resumeSimulation();
    throw new Error(`action = ${JSON.stringify(action)}: must be "pause" or "resume"`);
  });
  post<{ slot?: string }>('/api/control/rollback', ({ slot }) => {
    const valid = slotOf(slot);
    if (valid === null) throw new Error(`slot = ${JSON.stringify(slot)}: must be one of ${SLOTS.join(', ')}`);
    return controls!.rollback(valid);
  });
  post('/api/control/stop', () => controls!.stop());
  post<{ enabled?: unknown }>('/api/control/approval-mode', ({ enabled }) => {
    if (typeof enabled !== 'boolean') throw new Error(`enabled = ${JSON.stringify(enabled)}: must be true or false`);
    return controls!.setApprovalMode(enabled);
  });
  post<{ attemptId?: unknown; decision?: unknown }>('/api/approvals', ({ attemptId, decision }, request) => {
    if (decision !== 'approve' && decision !== 'reject') throw new Error(`decision = ${JSON.stringify(decision)}: must be "approve" or "reject"`);
    if (typeof attemptId !== 'number') throw new Error(`attemptId = ${JSON.stringify(attemptId)}: must be an attempt id`);
    if (!controls!.decide(attemptId, decision, who(request))) throw new Error(`attempt ${attemptId} is not waiting for a decision`);
    return null;
  });
}

/** Starts the dashboard; resolves once it listens. */
export async function startDashboard(options: DashboardServerOptions): Promise<DashboardServer> {
  const host = options.host ?? LOOPBACK;
  if (host !== LOOPBACK && options.tls === undefined && options.insecure !== true) {
    throw new DashboardSetupError(
      `--ui-host = ${JSON.stringify(host)}: the dashboard serves anyone who reaches that address, so it needs TLS (--ui-tls-cert and --ui-tls-key) or an explicit --insecure`,
    );
  }
  const tls = options.tls === undefined ? undefined : { key: readFileSync(options.tls.key), cert: readFileSync(options.tls.cert) };
  const app = (
    tls === undefined ? Fastify({ logger: false, forceCloseConnections: true }) : Fastify({ logger: false, forceCloseConnections: true, https: tls })
  ) as FastifyInstance;
  const scheme = tls === undefined ? 'http' : 'https';
  // The port is known only once listening: the gate reads it then, and no request comes before.
  let hosts: string[] = [];
  const gate = new DashboardGate({
    get allowedHosts() {
      return hosts;
    },
    get allowedOrigins() {
      return hosts.map((name) => `${scheme}://${name}`);
    },
    log: options.log,
  });
  app.addHook('onRequest', async (request, reply) => {
    const url = new URL(request.url, 'http://dashboard.invalid');
    const { refusal, exchange } = gate.check({
      method: request.method,
      host: header(request, 'host'),
      cookie: header(request, 'cookie'),
      urlToken: url.searchParams.get('token') ?? undefined,
      origin: header(request, 'origin'),
      secFetchSite: header(request, 'sec-fetch-site'),
      csrf: header(request, CSRF_HEADER),
      clientAddress: request.ip,
    });
    if (refusal !== null) return reply.code(refusal.status).type('text/plain; charset=utf-8').send(`${refusal.reason}\n`);
    if (exchange) return reply.header('set-cookie', gate.sessionCookie(tls !== undefined)).redirect(url.pathname, 303);
  });
  routes(app, options.data, gate);
  await app.listen({ host, port: options.port ?? 0 });
  const port = (app.server.address() as { port: number }).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  hosts = host === LOOPBACK ? [`${LOOPBACK}:${port}`, `localhost:${port}`] : [`${shown.toLowerCase()}:${port}`];
  return {
    url: `${scheme}://${shown}:${port}/?token=${gate.oneTimeToken}`,
    port,
    close: () => app.close(),
  };
}
