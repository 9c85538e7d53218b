/**
 * The dashboard's gate, as plain functions of a request's headers, so that
 * each rule is tested without a server:
 *
 * - The URL's token is good once: it is exchanged for a session cookie
 *   (HttpOnly, SameSite=Strict), and every later request needs the cookie.
 * - The Host header must name the address the server listens on: a page of
 *   another site whose DNS name was rebound to 127.0.0.1 sends its own name.
 * - A mutation needs the session's CSRF token in a header (a page of another
 *   origin cannot read it) and, when the browser sends one, an Origin of the
 *   dashboard itself.
 * - Failed token attempts are counted per client address: past a limit in a
 *   window the client is refused without a check, and each refusal is logged.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'ouroboros_ui';
export const CSRF_HEADER = 'x-ouroboros-csrf';
/** Failed token attempts from one address allowed within FAILURE_WINDOW_MS before it is refused outright. */
export const MAX_FAILED_ATTEMPTS = 10;
export const FAILURE_WINDOW_MS = 60_000;
const TOKEN_BYTES = 32;

function newToken(): string {
  return randomBytes(TOKEN_BYTES).toString('hex');
}

function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

/** The cookies of a Cookie header: `a=1; b=2` -> {a: '1', b: '2'} (the first of a repeated name wins). */
export function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    const name = part.slice(0, at).trim();
    if (!(name in cookies)) cookies[name] = part.slice(at + 1).trim();
  }
  return cookies;
}

/** Why a request is refused, with its HTTP status; null when it may go on. */
export interface Refusal {
  status: 400 | 401 | 403 | 429;
  reason: string;
}

export interface RequestFacts {
  method: string;
  host: string | undefined;
  cookie: string | undefined;
  /** The `token` query parameter, on the page's first load only. */
  urlToken: string | undefined;
  origin: string | undefined;
  secFetchSite: string | undefined;
  csrf: string | undefined;
  clientAddress: string;
}

export interface GateOptions {
  /** host:port values the Host header may take. */
  allowedHosts: readonly string[];
  /** The dashboard's own origins (scheme://host:port), for the Origin check. */
  allowedOrigins: readonly string[];
  /** Milliseconds on a monotonic clock (default performance.now), for the failure window. */
  now?: () => number;
  /** Told of every refused token and every rate-limited client. */
  log: (message: string) => void;
}

export class DashboardGate {
  /** The one-time token printed in the URL; cleared once exchanged. */
  private urlToken: string | null = newToken();
  readonly session = newToken();
  /** Sent to the page (which needs the session to read it) and required back on every mutation. */
  readonly csrfToken = newToken();
  private readonly failures = new Map<string, number[]>();
  private readonly now: () => number;

  constructor(private readonly options: GateOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  /** The token to print in the URL; null once a browser has exchanged it. */
  get oneTimeToken(): string | null {
    return this.urlToken;
  }

  /**
   * Checks a request. `exchange` is true when it carried the one-time token
   * (now spent): the caller sets the session cookie and redirects to a URL
   * without the token.
   */
  check(facts: RequestFacts): { refusal: Refusal | null; exchange: boolean } {
    if (facts.host === undefined || !this.options.allowedHosts.includes(facts.host.toLowerCase())) {
      return {
        refusal: { status: 403, reason: `Host ${JSON.stringify(facts.host ?? '')} is not the dashboard's address (${this.options.allowedHosts.join(', ')})` },
        exchange: false,
      };
    }
    if (this.limited(facts.clientAddress)) {
      this.options.log(`dashboard: ${facts.clientAddress} refused: more than ${MAX_FAILED_ATTEMPTS} failed token attempts in ${FAILURE_WINDOW_MS / 1000} s`);
      return { refusal: { status: 429, reason: 'too many failed token attempts: wait a minute' }, exchange: false };
    }
    let exchange = false;
    if (!sameSecret(parseCookies(facts.cookie)[SESSION_COOKIE], this.session)) {
      if (this.urlToken !== null && sameSecret(facts.urlToken, this.urlToken) && facts.method === 'GET') {
        this.urlToken = null;
        exchange = true;
      } else {
        this.fail(facts.clientAddress, facts.urlToken === undefined ? 'no session cookie' : 'a wrong or spent token');
        return {
          refusal: { status: 401, reason: 'open the URL the dashboard printed (its token is good once); this request has no valid session' },
          exchange: false,
        };
      }
    }
    if (facts.method !== 'GET' && facts.method !== 'HEAD') {
      const refusal = this.crossSite(facts);
      if (refusal !== null) return { refusal, exchange: false };
    }
    return { refusal: null, exchange };
  }

  /** The Set-Cookie value of the session: never readable by scripts, never sent by another site's request. */
  sessionCookie(secure: boolean): string {
    return `${SESSION_COOKIE}=${this.session}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
  }

  private crossSite(facts: RequestFacts): Refusal | null {
    if (facts.secFetchSite !== undefined && facts.secFetchSite !== 'same-origin') {
      return { status: 403, reason: `a ${facts.secFetchSite} request may not change anything (Sec-Fetch-Site)` };
    }
    if (facts.origin !== undefined && !this.options.allowedOrigins.includes(facts.origin.toLowerCase())) {
      return { status: 403, reason: `Origin ${JSON.stringify(facts.origin)} is not the dashboard's` };
    }
    if (!sameSecret(facts.csrf, this.csrfToken)) return { status: 403, reason: `a change needs the page's ${CSRF_HEADER} header` };
    return null;
  }

  private recent(address: string): number[] {
    const since = this.now() - FAILURE_WINDOW_MS;
    const times = (this.failures.get(address) ?? []).filter((at) => at > since);
    this.failures.set(address, times);
    return times;
  }

  private limited(address: string): boolean {
    return this.recent(address).length >= MAX_FAILED_ATTEMPTS;
  }

  private fail(address: string, what: string): void {
    this.recent(address).push(this.now());
    this.options.log(`dashboard: refused ${what} from ${address}`);
  }
}
