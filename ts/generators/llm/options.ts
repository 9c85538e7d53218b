/**
 * The LLM generator's options, validated once with messages that name the
 * option, the value and the limit.
 */
import process from 'node:process';
import { invalidRangeError, invalidTypeError, requireFiniteNumber, requireInteger } from '../../errors.js';

export interface LlmGeneratorOptions {
  /** The OpenAI-compatible endpoint, e.g. "http://127.0.0.1:8080/v1" (llama.cpp), ".../v1" (vLLM, Ollama). */
  baseURL: string;
  model: string;
  /**
   * The key sent as a bearer token. Default: OUROBOROS_LLM_API_KEY, else
   * OPENAI_API_KEY. A server on loopback may need none; any other endpoint
   * must be given one (pass any string for a keyless server on the network).
   */
  apiKey?: string;
  /** Limit of one request, the reply's body included (default 60 s). */
  timeoutMs?: number;
  /** Further attempts after a timeout, a refused connection, a 429 or a 5xx (default 2). */
  maxRetries?: number;
  /** The first retry waits about this long, each next one twice as long, capped at 8 s (default 500 ms). */
  retryBackoffMs?: number;
  /** Requests started per minute at most, across all proposals (default 60). */
  requestsPerMinute?: number;
  /** Requests that may start back to back before the per-minute pace applies (default 1). */
  burstRequests?: number;
  /** Once this much is spent no request is sent (default 1 USD). */
  spendLimitUsd?: number;
  /** Prices of the model, in USD per million prompt and completion tokens (default 0: a local server). */
  inputUsdPerMillionTokens?: number;
  outputUsdPerMillionTokens?: number;
  /** Sampling temperature in [0, 2] (default 0.7). */
  temperature?: number;
  /** Most completion tokens per reply (default 8192). */
  maxTokens?: number;
}

export type ResolvedLlmOptions = Required<LlmGeneratorOptions>;

/** What a local server gets as a key when none is configured: llama.cpp, vLLM and Ollama ignore it. */
export const KEYLESS_PLACEHOLDER = 'no-key-required';
export const MAX_BACKOFF_MS = 8_000;

function nonNegative(name: string, value: unknown): number {
  const number = requireFiniteNumber(name, value);
  if (number < 0) throw invalidRangeError(name, 'must be a finite number >= 0', value);
  return number;
}

function nonEmptyString(name: string, value: unknown, expected: string): string {
  if (typeof value !== 'string') throw invalidTypeError(name, expected, value);
  if (value.trim() === '') throw invalidRangeError(name, `must be ${expected}`, value);
  return value;
}

function endpoint(value: unknown): URL {
  const text = nonEmptyString('baseURL', value, 'an http:// or https:// URL');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalidRangeError('baseURL', 'must be an http:// or https:// URL, e.g. "http://127.0.0.1:8080/v1"', value);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidRangeError('baseURL', 'must be an http:// or https:// URL, e.g. "http://127.0.0.1:8080/v1"', value);
  }
  return url;
}

function isLoopback(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function apiKeyFor(url: URL, value: unknown): string {
  if (value !== undefined) return nonEmptyString('apiKey', value, 'a non-empty string');
  const fromEnvironment = process.env.OUROBOROS_LLM_API_KEY || process.env.OPENAI_API_KEY;
  if (fromEnvironment) return fromEnvironment;
  if (isLoopback(url)) return KEYLESS_PLACEHOLDER;
  throw invalidRangeError(
    'apiKey',
    `is required for the non-loopback endpoint ${url.origin}: pass apiKey or set OUROBOROS_LLM_API_KEY (any string for a keyless server)`,
    value,
  );
}

export function resolveLlmOptions(options: LlmGeneratorOptions): ResolvedLlmOptions {
  if (options === null || typeof options !== 'object') throw invalidTypeError('options', 'an object', options);
  const url = endpoint(options.baseURL);
  const temperature = requireFiniteNumber('temperature', options.temperature ?? 0.7);
  if (temperature < 0 || temperature > 2) throw invalidRangeError('temperature', 'must be in [0, 2]', temperature);
  const requestsPerMinute = requireFiniteNumber('requestsPerMinute', options.requestsPerMinute ?? 60);
  if (requestsPerMinute <= 0 || requestsPerMinute > 60_000) {
    throw invalidRangeError('requestsPerMinute', 'must be in (0, 60000]', requestsPerMinute);
  }
  return {
    baseURL: options.baseURL,
    model: nonEmptyString('model', options.model, 'a model name, e.g. "qwen2.5-coder-7b-instruct"'),
    apiKey: apiKeyFor(url, options.apiKey),
    timeoutMs: requireInteger('timeoutMs', options.timeoutMs ?? 60_000, 10, 3_600_000),
    maxRetries: requireInteger('maxRetries', options.maxRetries ?? 2, 0, 10),
    retryBackoffMs: requireInteger('retryBackoffMs', options.retryBackoffMs ?? 500, 0, MAX_BACKOFF_MS),
    requestsPerMinute,
    burstRequests: requireInteger('burstRequests', options.burstRequests ?? 1, 1, 1000),
    spendLimitUsd: nonNegative('spendLimitUsd', options.spendLimitUsd ?? 1),
    inputUsdPerMillionTokens: nonNegative('inputUsdPerMillionTokens', options.inputUsdPerMillionTokens ?? 0),
    outputUsdPerMillionTokens: nonNegative('outputUsdPerMillionTokens', options.outputUsdPerMillionTokens ?? 0),
    temperature,
    maxTokens: requireInteger('maxTokens', options.maxTokens ?? 8192, 256, 1_000_000),
  };
}
