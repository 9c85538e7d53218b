import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileReadError, readBoundedText } from '../dist/ts/util/bounded-read.js';

const cli = path.resolve('bin/ouroboros.js');

function fifo(): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'ouro-fifo-')), 'pipe');
  expect(spawnSync('mkfifo', [file]).status).toBe(0);
  return file;
}

describe('reading a file the user named', () => {
  it('reads a regular file within the limit and refuses one over it, naming the size and the limit', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'ouro-read-')), 'a.toml');
    writeFileSync(file, 'seed = 3\n');
    expect(readBoundedText('config file', file, 9)).toBe('seed = 3\n');
    expect(() => readBoundedText('config file', file, 8)).toThrow(`config file = "${file}": is 9 bytes, over the limit of 8`);
  });

  it('refuses a device that never ends and a FIFO, without reading or waiting', () => {
    expect(() => readBoundedText('<candidate>', '/dev/zero', 1024)).toThrow(FileReadError);
    expect(() => readBoundedText('<candidate>', '/dev/zero', 1024)).toThrow('<candidate> = "/dev/zero": is not a regular file');
    const pipe = fifo();
    expect(() => readBoundedText('config file', pipe, 1024)).toThrow(`config file = "${pipe}": is not a regular file`);
  });

  it('gives the CLI a clear error for /dev/zero or a FIFO as a config or a candidate', () => {
    const cases: Array<[string[], string]> = [
      [['run', '--once', '--config', '/dev/zero'], 'ouroboros: config file = "/dev/zero": is not a regular file'],
      [['check', '/dev/zero'], 'ouroboros: <candidate> = "/dev/zero": is not a regular file'],
      [['check', fifo()], 'is not a regular file'],
    ];
    for (const [args, expected] of cases) {
      const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
      expect(result.stderr, args.join(' ')).toContain(expected);
      expect(result.status, args.join(' ')).not.toBe(0);
    }
  });
});
