// The LLM generator against a local OpenAI-compatible server started here on
// loopback, serving recorded chat completions: no network, no API key.
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { evaluateCandidate, GauntletPool } from '@ouroboros-engine/core';
import { LlmGenerator, type LlmGeneratorOptions } from '../dist/ts/generators/llm/index.js';
import { GeneratorError, type GenerationContext } from '../dist/ts/generators/types.js';
import { seededRandom } from '../dist/ts/util/random.js';

type Behaviour = string | { status: number; body?: unknown; raw?: string; headers?: Record<string, string> } | 'hang';

interface ReceivedRequest {
  atMs: number;
  authorization: string | undefined;
  body: { model: string; messages: { role: string; content: string }[]; temperature: number; max_tokens: number };
}

/** A chat-completions server whose replies are scripted per request; the last behaviour repeats. */
class RecordedServer {
  readonly received: ReceivedRequest[] = [];
  private script: Behaviour[] = ['good'];
  private readonly server = http.createServer((request, response) => this.handle(request, response));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  serve(...script: Behaviour[]): void {
    this.script = script;
    this.received.length = 0;
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
        response.writeHead(404).end();
        return;
      }
      const index = this.received.length;
      this.received.push({
        atMs: performance.now(),
        authorization: request.headers.authorization,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      });
      const behaviour = this.script[Math.min(index, this.script.length - 1)]!;
      if (behaviour === 'hang') return;
      if (typeof behaviour === 'string') {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(readFileSync(path.resolve('tests/fixtures/llm', `${behaviour}.json`)));
        return;
      }
      response.writeHead(behaviour.status, { 'content-type': 'application/json', ...behaviour.headers });
      response.end(behaviour.raw ?? JSON.stringify(behaviour.body ?? { error: { message: `status ${behaviour.status}` } }));
    });
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const referenceSource = readFileSync(path.resolve('cpp/kernels/reference.cpp'), 'utf8');

function context(overrides: Partial<GenerationContext> = {}): GenerationContext {
  return {
    slot: 'step',
    parent: { attemptId: 7, source: referenceSource, genome: null, mlups: 210.5 },
    mates: [],
    profile: { share: 0.93, meanNs: 812_000, p99Ns: 990_000, mlups: 210.5, extents: [1024, 1024], precision: 'f64', threads: 2 },
    recentFailures: [
      { gate: 'compile', reason: "error: 'restrict' was not declared in this scope" },
      { gate: 'sandbox', reason: 'differential: 12 of 16384 cells differ from the oracle, first cell 40' },
    ],
    operatorWeights: {},
    random: seededRandom(3),
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<GeneratorError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(GeneratorError);
  return error as GeneratorError;
}

describe('LlmGenerator against a local OpenAI-compatible server', () => {
  const server = new RecordedServer();
  let baseURL = '';
  const generator = (options: Partial<LlmGeneratorOptions> = {}) =>
    new LlmGenerator({ baseURL, model: 'qwen2.5-coder-7b-instruct', timeoutMs: 2_000, retryBackoffMs: 5, requestsPerMinute: 60_000, ...options });

  beforeAll(async () => {
    baseURL = await server.start();
  });
  afterAll(() => server.stop());
  beforeEach(() => {
    vi.stubEnv('OUROBOROS_LLM_API_KEY', '');
    vi.stubEnv('OPENAI_API_KEY', '');
  });
  afterEach(() => vi.unstubAllEnvs());

  it('turns a good reply into a proposal whose source passes the gauntlet', async () => {
    server.serve('good');
    const llm = generator({ inputUsdPerMillionTokens: 2, outputUsdPerMillionTokens: 8 });
    const proposal = await llm.propose(context());
    expect(proposal.generator).toBe('llm');
    expect(proposal.operator).toBe('llm');
    expect(proposal.genome).toBeNull();
    expect(proposal.costUsd).toBeCloseTo((1000 * 2 + 500 * 8) / 1e6, 12);
    expect(proposal.source).toContain('"llm-rows"');
    expect(proposal.source).not.toContain('```');
    // The reply as it came, fences and all, for the archive.
    expect(proposal.rawReply).toContain('```');
    expect(proposal.rawReply).toContain(proposal.source.trim());

    const pool = new GauntletPool(2);
    const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-llm-cache-'));
    const verdict = await evaluateCandidate({ source: proposal.source, pool, cacheDir });
    await pool.close();
    expect(verdict.gates.map((gate) => [gate.gate, gate.passed])).toEqual(
      ['patch', 'static', 'compile', 'symbols', 'sandbox', 'dojo', 'bench'].map((gate) => [gate, true]),
    );
    expect(verdict.accepted).toBe(true);
  }, 300_000);

  it('sends the ABI, the rules, the parent, the profile and the failed siblings; the proposal keeps that prompt', async () => {
    server.serve('good');
    const hints = [{ operator: 'mutate:tile', description: 'tile=64x64 unroll=4', speedup: 1.8 }];
    const proposal = await new LlmGenerator({ baseURL, model: 'qwen2.5-coder-7b-instruct', temperature: 0.2, maxTokens: 4096 }, (slot, count) =>
      slot === 'step' ? hints.slice(0, count) : [],
    ).propose(context());
    expect(server.received).toHaveLength(1);
    const { body, authorization } = server.received[0]!;
    expect(authorization).toBe('Bearer no-key-required');
    expect(body.model).toBe('qwen2.5-coder-7b-instruct');
    expect(body.temperature).toBe(0.2);
    expect(body.max_tokens).toBe(4096);
    const [system, user] = body.messages;
    expect(system!.role).toBe('system');
    expect(system!.content).toContain(readFileSync(path.resolve('cpp/include/ouroboros/kernel_abi.h'), 'utf8').trim());
    expect(system!.content).toContain('<cstdint>');
    expect(system!.content).toContain('parallel_for');
    expect(user!.role).toBe('user');
    expect(user!.content).toContain(referenceSource.trim());
    expect(user!.content).toContain('The parent includes "reference_math.h", which a candidate may not include');
    expect(user!.content).toContain(readFileSync(path.resolve('cpp/kernels/reference_math.h'), 'utf8').trim());
    expect(user!.content).toContain("rejected by the compile gate: error: 'restrict' was not declared in this scope");
    expect(user!.content).toContain('rejected by the sandbox gate: differential: 12 of 16384 cells differ');
    expect(user!.content).toContain('extents [1024, 1024], precision f64');
    expect(user!.content).toContain('mutate:tile: tile=64x64 unroll=4 (1.80x');
    expect(proposal.prompt).toContain(system!.content);
    expect(proposal.prompt).toContain(user!.content);
  });

  it.each([
    ['prose-only', /no fenced C\+\+ code block/],
    ['two-blocks', /2 C\+\+ code blocks: exactly one/],
    ['no-entry', /does not define ouro_kernel_entry/],
    ['cut-off', /cut off at maxTokens = 8192/],
  ])('rejects the malformed reply %s with the reason', async (fixture, reason) => {
    server.serve(fixture);
    const llm = generator();
    const error = await rejection(llm.propose(context()));
    expect(error.kind).toBe('malformed-reply');
    expect(error.message).toMatch(reason);
    expect(llm.stats()).toMatchObject({ requests: 1, retries: 0, replies: 1, malformedReplies: 1 });
    // What the model said travels with the error, so the archive can keep it.
    expect(error.exchange?.prompt).toContain('[system]');
    expect(error.exchange?.rawReply.length).toBeGreaterThan(0);
  });

  it('rejects a reply that is not JSON as malformed, without retrying', async () => {
    server.serve({ status: 200, raw: '<html>502 Bad Gateway</html>' });
    const error = await rejection(generator({ maxRetries: 2 }).propose(context()));
    expect(error.kind).toBe('malformed-reply');
    expect(error.message).toContain('not valid JSON');
    expect(server.received).toHaveLength(1);
  });

  it('retries a server that never answers maxRetries times, then gives up with a timeout', async () => {
    server.serve('hang');
    const llm = generator({ timeoutMs: 200, maxRetries: 2 });
    const error = await rejection(llm.propose(context()));
    expect(error.kind).toBe('timeout');
    expect(error.message).toContain('timeoutMs = 200');
    expect(error.message).toContain('3 attempts (maxRetries = 2)');
    expect(server.received).toHaveLength(3);
    expect(llm.stats()).toMatchObject({ requests: 3, retries: 2, replies: 0 });
  });

  it('retries a transient 503 and goes through; does not retry a 401', async () => {
    server.serve({ status: 503 }, 'good');
    const llm = generator({ maxRetries: 3 });
    await expect(llm.propose(context())).resolves.toMatchObject({ operator: 'llm' });
    expect(server.received).toHaveLength(2);
    expect(llm.stats()).toMatchObject({ requests: 2, retries: 1, replies: 1 });

    server.serve({ status: 401, body: { error: { message: 'invalid api key' } } });
    const error = await rejection(generator({ maxRetries: 3 }).propose(context()));
    expect(error.kind).toBe('network');
    expect(error.message).toContain('401');
    expect(server.received).toHaveLength(1);
  });

  it('gives up on a server that keeps answering 429 as rate-limited, after the retries', async () => {
    server.serve({ status: 429, headers: { 'retry-after-ms': '20' } });
    const error = await rejection(generator({ maxRetries: 1 }).propose(context()));
    expect(error.kind).toBe('rate-limited');
    expect(server.received).toHaveLength(2);
  });

  it('refuses with spend-limit once the replies spent the limit, without a request reaching the server', async () => {
    server.serve('good');
    // 1000 prompt tokens at 2 USD/M plus 500 completion tokens at 8 USD/M: 0.006 USD a reply.
    const llm = generator({ inputUsdPerMillionTokens: 2, outputUsdPerMillionTokens: 8, spendLimitUsd: 0.01 });
    await llm.propose(context());
    await llm.propose(context());
    expect(server.received).toHaveLength(2);
    const error = await rejection(llm.propose(context()));
    expect(error.kind).toBe('spend-limit');
    expect(error.message).toContain('spendLimitUsd = 0.01');
    expect(server.received).toHaveLength(2);
    expect(llm.stats().spentUsd).toBeCloseTo(0.012, 12);
  });

  it('paces requests to requestsPerMinute, waiting for the token bucket', async () => {
    server.serve('good');
    const llm = generator({ requestsPerMinute: 600 });
    for (let i = 0; i < 3; i += 1) await llm.propose(context());
    expect(llm.stats().rateLimitWaits).toBe(2);
    const gapsMs = server.received.slice(1).map((request, i) => request.atMs - server.received[i]!.atMs);
    // 600 a minute is one request every 100 ms; arrival jitter on loopback is far below 20 ms.
    for (const gapMs of gapsMs) expect(gapMs).toBeGreaterThan(80);
  });

  it('reports a refused connection as a network failure after the retries', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const llm = generator({ baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 1 });
    const error = await rejection(llm.propose(context()));
    expect(error.kind).toBe('network');
    expect(error.message).toContain('the connection was refused');
    expect(llm.stats()).toMatchObject({ requests: 2, retries: 1 });
  });

  it('rejects bad options with the option, the value and the limit', () => {
    const base = { baseURL: 'http://127.0.0.1:1/v1', model: 'm' };
    expect(() => new LlmGenerator({ ...base, baseURL: 'ftp://example.com' })).toThrow(/baseURL = "ftp:\/\/example.com": must be an http/);
    expect(() => new LlmGenerator({ ...base, model: '' })).toThrow(/model = "": must be a model name/);
    expect(() => new LlmGenerator({ ...base, timeoutMs: 5 })).toThrow('timeoutMs = 5: must be an integer in [10, 3600000]');
    expect(() => new LlmGenerator({ ...base, maxRetries: -1 })).toThrow('maxRetries = -1: must be an integer in [0, 10]');
    expect(() => new LlmGenerator({ ...base, requestsPerMinute: 0 })).toThrow('requestsPerMinute = 0: must be in (0, 60000]');
    expect(() => new LlmGenerator({ ...base, spendLimitUsd: -1 })).toThrow('spendLimitUsd = -1: must be a finite number >= 0');
    expect(() => new LlmGenerator({ ...base, temperature: 3 })).toThrow('temperature = 3: must be in [0, 2]');
    expect(() => new LlmGenerator({ ...base, maxTokens: 10 })).toThrow('maxTokens = 10: must be an integer in [256, 1000000]');
    expect(() => new LlmGenerator({ ...base, baseURL: 'https://llm.example.com/v1' })).toThrow(
      /apiKey = undefined: is required for the non-loopback endpoint https:\/\/llm.example.com/,
    );
    vi.stubEnv('OUROBOROS_LLM_API_KEY', 'from-environment');
    expect(new LlmGenerator({ ...base, baseURL: 'https://llm.example.com/v1' }).options.apiKey).toBe('from-environment');
  });
});
