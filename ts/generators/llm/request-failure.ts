/**
 * Why one request to the endpoint failed, and whether another attempt could
 * help: timeouts, refused or dropped connections, 408, 409, 429 and 5xx are
 * transient; any other HTTP status (a wrong key, an unknown model, a bad
 * request) fails the same way again, so it is not retried.
 */
import { APIConnectionError, APIConnectionTimeoutError, APIError, RateLimitError } from 'openai';
import type { GeneratorFailureKind } from '../types.js';

export interface RequestFailure {
  kind: GeneratorFailureKind;
  retryable: boolean;
  /** What the server asked us to wait (Retry-After), in ms; 0 when it did not say. */
  retryAfterMs: number;
  /** One phrase for the error message. */
  description: string;
}

function errorCode(error: unknown): string | undefined {
  let cause: unknown = error;
  for (let depth = 0; depth < 4 && cause instanceof Error; depth += 1) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cause = cause.cause;
  }
  return undefined;
}

function retryAfterMs(headers: Headers | undefined): number {
  const milliseconds = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(milliseconds)) return Math.max(0, milliseconds);
  const seconds = Number.parseFloat(headers?.get('retry-after') ?? '');
  return Number.isFinite(seconds) ? Math.max(0, seconds * 1000) : 0;
}

/**
 * `timedOut` says the attempt's own deadline fired, which the SDK reports as
 * an abort or, mid-body, as whatever the body stream threw. Null: the error
 * is not about the request at all (a bug), and is rethrown as it is.
 */
export function classifyRequestFailure(error: unknown, timedOut: boolean, timeoutMs: number): RequestFailure | null {
  if (timedOut || error instanceof APIConnectionTimeoutError) {
    return { kind: 'timeout', retryable: true, retryAfterMs: 0, description: `no reply within timeoutMs = ${timeoutMs}` };
  }
  if (error instanceof APIConnectionError) {
    const code = errorCode(error.cause);
    const what = code === 'ECONNREFUSED' ? 'the connection was refused' : `the connection failed (${code ?? error.message})`;
    return { kind: 'network', retryable: true, retryAfterMs: 0, description: what };
  }
  if (error instanceof RateLimitError) {
    const description = `the server answered ${error.message}`;
    return { kind: 'rate-limited', retryable: true, retryAfterMs: retryAfterMs(error.headers), description };
  }
  if (error instanceof APIError && typeof error.status === 'number') {
    const transient = error.status === 408 || error.status === 409 || error.status >= 500;
    const description = `the server answered ${error.message}`;
    return { kind: 'network', retryable: transient, retryAfterMs: retryAfterMs(error.headers), description };
  }
  if (error instanceof SyntaxError) {
    return { kind: 'malformed-reply', retryable: false, retryAfterMs: 0, description: `the reply is not valid JSON (${error.message})` };
  }
  const code = errorCode(error);
  if (code === undefined) return null;
  return { kind: 'network', retryable: true, retryAfterMs: 0, description: `the request failed (${code})` };
}
