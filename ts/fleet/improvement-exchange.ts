/**
 * An engine's end of the fleet's improvements stream: it publishes what it
 * applied, and reads what the others applied into an inbox of candidates,
 * after checkImprovement() (a refused message is logged with its reason
 * and counted, never queued). Sources this engine already has (its own
 * archive, or a message seen before) are skipped. The reader starts at the
 * stream's beginning, so an engine that joins late learns what the fleet
 * found before it; a reader cut off by a Redis outage resumes after the
 * last entry it read once the connection is back.
 */
import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import type { AttemptRecord, MachineFingerprint } from '../archive/types.js';
import type { Slot } from '../gauntlet/types.js';
import { checkRedisUrl, connectRedis, redisOptions } from './connection.js';
import { IMPROVEMENTS_KEPT, IMPROVEMENTS_STREAM } from './keys.js';
import { type SharedImprovement, checkImprovement, improvementFromRecord } from './shared-improvement.js';

/** How long one blocking read waits for new entries before it looks again (and notices a close). */
const READ_BLOCK_MS = 1_000;
const READ_BATCH = 100;

export interface ExchangeOptions {
  redisUrl: string;
  engineId: string;
  fingerprint: MachineFingerprint;
  /** Whether this engine's archive has a source already (its sha256): such a message is no news. */
  knownSource: (sourceSha256: string) => boolean;
}

/** A message this engine would not take, and why. */
export interface Refusal {
  entryId: string;
  engineId: string | null;
  reason: string;
}

/**
 * Emits 'received' (SharedImprovement) for a message queued as a
 * candidate, 'refused' (Refusal) and 'published' (SharedImprovement).
 */
export class ImprovementExchange extends EventEmitter {
  readonly counts = { published: 0, received: 0, refused: 0, known: 0 };
  private readonly inbox: SharedImprovement[] = [];
  private readonly seen = new Set<string>();
  private lastEntryId = '0-0';
  private closed = false;
  private readonly reading: Promise<void>;

  private constructor(
    private readonly options: ExchangeOptions,
    private readonly redis: Redis,
    private readonly reader: Redis,
  ) {
    super();
    this.reading = this.readLoop();
  }

  static async connect(options: ExchangeOptions): Promise<ImprovementExchange> {
    checkRedisUrl(options.redisUrl);
    const redis = await connectRedis(options.redisUrl);
    // Blocking reads need a connection of their own.
    const reader = new Redis(options.redisUrl, { ...redisOptions(), lazyConnect: false });
    reader.on('error', () => undefined);
    return new ImprovementExchange(options, redis, reader);
  }

  /** Publishes an applied attempt of this engine; resolves with the stream entry id, or null while Redis is away. */
  async publish(record: AttemptRecord): Promise<string | null> {
    if (this.redis.status !== 'ready') return null;
    const improvement = improvementFromRecord(record, this.options.engineId, this.options.fingerprint);
    this.seen.add(improvement.sourceSha256);
    const entryId = await this.redis.xadd(IMPROVEMENTS_STREAM, 'MAXLEN', '~', String(IMPROVEMENTS_KEPT), '*', 'message', JSON.stringify(improvement));
    this.counts.published += 1;
    this.emit('published', improvement);
    return entryId;
  }

  /** Publishes raw text as a message, as a faulty or hostile member would: for tests and `bench fleet`. */
  async publishRaw(text: string): Promise<string | null> {
    return this.redis.xadd(IMPROVEMENTS_STREAM, 'MAXLEN', '~', String(IMPROVEMENTS_KEPT), '*', 'message', text);
  }

  /** Whether a received improvement waits for the slot (any slot when none is given). */
  hasPending(slot?: Slot): boolean {
    return this.inbox.some((improvement) => slot === undefined || improvement.slot === slot);
  }

  /** The oldest received improvement for the slot, taken out of the inbox; undefined when none waits. */
  take(slot: Slot): SharedImprovement | undefined {
    const index = this.inbox.findIndex((improvement) => improvement.slot === slot);
    return index < 0 ? undefined : this.inbox.splice(index, 1)[0];
  }

  private async readLoop(): Promise<void> {
    while (!this.closed) {
      let reply: [string, [string, string[]][]][] | null;
      try {
        reply = (await this.reader.xread('COUNT', READ_BATCH, 'BLOCK', READ_BLOCK_MS, 'STREAMS', IMPROVEMENTS_STREAM, this.lastEntryId)) as typeof reply;
      } catch {
        // Closed, or the connection dropped: the client reconnects by itself and the next read resumes after lastEntryId.
        if (this.closed) return;
        await new Promise((resolve) => setTimeout(resolve, READ_BLOCK_MS));
        continue;
      }
      for (const [, entries] of reply ?? []) {
        for (const [entryId, fields] of entries) {
          this.lastEntryId = entryId;
          this.receive(entryId, fields[fields.indexOf('message') + 1] ?? '');
        }
      }
    }
  }

  private receive(entryId: string, text: string): void {
    const check = checkImprovement(text, this.options.fingerprint);
    if (!check.ok) {
      const sender = /"engineId":"([^"]{1,100})"/.exec(text)?.[1] ?? null;
      if (sender === this.options.engineId) return;
      this.counts.refused += 1;
      this.emit('refused', { entryId, engineId: sender, reason: check.reason } satisfies Refusal);
      return;
    }
    const { improvement } = check;
    if (improvement.engineId === this.options.engineId) return;
    if (this.seen.has(improvement.sourceSha256) || this.options.knownSource(improvement.sourceSha256)) {
      this.counts.known += 1;
      return;
    }
    this.seen.add(improvement.sourceSha256);
    this.inbox.push(improvement);
    this.counts.received += 1;
    this.emit('received', improvement);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.reader.disconnect();
    await this.reading;
    this.redis.disconnect();
  }
}
