/**
 * The private servers the fleet's tests and `bench fleet` start: each
 * answers on its loopback port, and nothing is left after stop().
 */
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PrivatePostgres, PrivateRedis } from '../ts/fleet/private-servers.js';

describe('private servers', () => {
  it('a private redis-server answers, keeps nothing across a restart, and leaves no directory', async () => {
    const server = await PrivateRedis.start();
    const client = new Redis(server.url, { maxRetriesPerRequest: null, lazyConnect: true });
    try {
      await client.connect();
      await client.set('k', 'v');
      expect(await client.get('k')).toBe('v');
      await server.restart();
      // ioredis reconnects by itself; the restarted server persisted nothing.
      expect(await client.get('k')).toBeNull();
    } finally {
      client.disconnect();
      await server.stop();
    }
    expect(existsSync(server.dir)).toBe(false);
  });

  it('a private PostgreSQL answers a query on its loopback port and leaves no directory', async () => {
    const server = await PrivatePostgres.start();
    const client = new pg.Client({ connectionString: server.url });
    try {
      await client.connect();
      const result = await client.query<{ sum: number }>('select 40 + 2 as sum');
      expect(result.rows[0]!.sum).toBe(42);
    } finally {
      await client.end();
      await server.stop();
    }
    expect(existsSync(server.dir)).toBe(false);
  });
});
