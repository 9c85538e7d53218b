import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { FallbackDestination, createEngineLog } from '../dist/ts/engine/log.js';

function collector() {
  const lines: string[] = [];
  return { lines, write: (text: string) => lines.push(text) };
}

describe('the engine log on a failing disk', () => {
  it('goes on on stderr, saying once which file failed and why, when a write fails (ENOSPC from /dev/full)', () => {
    const stderr = collector();
    const destination = new FallbackDestination('/dev/full', stderr);
    const logger = pino({ base: null }, destination);
    expect(() => logger.info({ event: 'started' }, 'engine started')).not.toThrow();
    logger.info({ event: 'stopped' }, 'engine stopped');
    expect(destination.toFile).toBe(false);
    expect(stderr.lines.filter((line) => line.startsWith('ouroboros: log.file'))).toEqual([
      'ouroboros: log.file = "/dev/full": a write failed (ENOSPC); the log goes on on stderr\n',
    ]);
    const records = stderr.lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
    expect(records.map((record) => record.msg)).toEqual(['engine started', 'engine stopped']);
  });

  it('writes to its file while the file takes the lines', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'ouro-log-')), 'engine.log');
    const stderr = collector();
    const logger = pino({ base: null }, new FallbackDestination(file, stderr));
    logger.info({ event: 'started' }, 'engine started');
    expect(JSON.parse(readFileSync(file, 'utf8')).msg).toBe('engine started');
    expect(stderr.lines).toEqual([]);
  });

  it('names the key and the path when log.file cannot be opened (a directory)', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ouro-log-'));
    expect(() => createEngineLog({ file: dir, level: 'info' })).toThrow(
      new RegExp(`^log.file = "${dir.replace(/[/.]/g, '\\$&')}": cannot be opened for appending \\(EISDIR`),
    );
  });
});
