// ouroboros.toml: the schema's defaults, the shipped file, and errors that
// name the key, the value and the limit (and the file, line and column).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'smol-toml';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_SCHEMA, ConfigError, defaultConfig, loadConfig, parseDurationMs, resolveConfig } from '../dist/ts/engine/config.js';
import { MAX_FOLLOWED_CELLS, benchmarkTarget } from '../dist/ts/engine/judge.js';
import { driftTolerance, watchdogOptions } from '../dist/ts/engine/main-lattice.js';
import { tomlKeyAt } from '../dist/ts/engine/toml-key-at.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'ouroboros-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function file(text: string): string {
  files += 1;
  const name = path.join(dir, `config-${files}.toml`);
  writeFileSync(name, text);
  return name;
}

describe('the benchmark lattice', () => {
  it('follows the live lattice unless gauntlet.targetExtents names one', () => {
    expect(defaultConfig.gauntlet.targetExtents).toEqual([]);
    expect(benchmarkTarget(defaultConfig)).toEqual([4096, 4096]);
    expect(benchmarkTarget(resolveConfig({ lattice: { extents: [128, 128] } }))).toEqual([128, 128]);
    expect(benchmarkTarget(resolveConfig({ lattice: { extents: [256, 256, 256] } }))).toEqual([256, 256, 256]);
    expect(benchmarkTarget(resolveConfig({ lattice: { extents: [128, 128] }, gauntlet: { targetExtents: [300, 200] } }))).toEqual([300, 200]);
  });

  it('is 4096x4096 for a live lattice too large for three levels of it in the sandbox', () => {
    expect(benchmarkTarget(resolveConfig({ lattice: { extents: [8192, 4096] } }))).toEqual([4096, 4096]);
    expect(8192 * 4096).toBeGreaterThan(MAX_FOLLOWED_CELLS);
  });

  it('takes [] only where the key says what it stands for', () => {
    expect(() => resolveConfig({ lattice: { extents: [] } })).toThrow('lattice.extents = []: must be an array of 1 to 9 integers');
  });
});

describe('defaults', () => {
  it('has the documented defaults', () => {
    expect(defaultConfig.maxConcurrentImprovements).toBe(3);
    expect(defaultConfig.safetyThreshold).toBe(0.8);
    expect(defaultConfig.maxDegradation).toBe(0.05);
    expect(defaultConfig.improvementIntervalMs).toBe(2000);
    expect(defaultConfig.generator.kind).toBe('variant');
    expect(defaultConfig.lattice).toMatchObject({ extents: [4096, 4096], precision: 'f64' });
    expect(defaultConfig.watch.windowMs).toBe(4000);
    expect(defaultConfig.breaker).toEqual({ failures: 5, backoffMs: 5000, maxBackoffMs: 300_000 });
  });

  it('ships ouroboros.toml with every key, each commented, at its default', () => {
    const text = readFileSync('ouroboros.toml', 'utf8');
    expect(loadConfig('ouroboros.toml')).toEqual(defaultConfig);
    const document = parse(text) as Record<string, unknown>;
    for (const key of CONFIG_SCHEMA) {
      const value = key.path.split('.').reduce<unknown>((table, part) => (table as Record<string, unknown>)?.[part], document);
      expect(value, key.path).toEqual(key.default);
      const name = key.path.split('.').at(-1)!;
      const lines = text.split('\n');
      const at = lines.findIndex((line, i) => line.startsWith(`${name} = `) && lines[i - 1]!.startsWith('#'));
      expect(at, `${key.path} has a comment above it`).toBeGreaterThan(0);
    }
  });

  it('describes every key with a type, a default and a sentence', () => {
    for (const key of CONFIG_SCHEMA) expect(key.description.length, key.path).toBeGreaterThan(10);
    expect(new Set(CONFIG_SCHEMA.map((k) => k.path)).size).toBe(CONFIG_SCHEMA.length);
  });
});

describe('durations', () => {
  it('parses units and refuses bare numbers', () => {
    expect(parseDurationMs('2s')).toBe(2000);
    expect(parseDurationMs('250ms')).toBe(250);
    expect(parseDurationMs('1.5m')).toBe(90_000);
    expect(parseDurationMs('500us')).toBe(0.5);
    expect(parseDurationMs('2')).toBeNull();
    expect(parseDurationMs('2 days')).toBeNull();
  });
});

describe('errors name the key, the value and the limit', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ maxConcurrentImprovements: 0 }, /^maxConcurrentImprovements = 0: must be an integer in \[1, 16\]$/],
    [{ maxConcurrentImprovements: 2.5 }, /maxConcurrentImprovements = 2.5: must be an integer/],
    [{ safetyThreshold: 1.5 }, /^safetyThreshold = 1.5: must be a number in \[0, 1\]$/],
    [{ maxDegradation: 1 }, /^maxDegradation = 1: must be a number in \[0, 1\)$/],
    [{ improvementInterval: 2 }, /^improvementInterval = 2: must be a duration with a unit/],
    [{ improvementInterval: '2 fortnights' }, /improvementInterval = "2 fortnights": must be a duration/],
    [{ sampleInterval: '10ms' }, /^sampleInterval = "10ms": must be between 50 ms and 3600000 ms$/],
    [{ generator: { kind: 'gpt' } }, /^generator\.kind = "gpt": must be one of "variant", "random", "llm"$/],
    [{ lattice: { extents: [4096, 2] } }, /^lattice\.extents\[1\] = 2: each extent must be an integer in \[3, 16777216\]$/],
    [{ lattice: { extents: [] } }, /^lattice\.extents = \[\]: must be an array of 1 to 9 integers/],
    [{ lattice: { dt: 0.75 } }, /^lattice\.dt = 0.75: the Courant number dt \(c = h = 1\) must be below 1 \/ sqrt\(2\) = 0.707107$/],
    [{ archive: { path: '' } }, /^archive\.path = "": must not be empty$/],
    [{ archive: { warmStart: 'yes' } }, /^archive\.warmStart = "yes": must be true or false$/],
    [{ breaker: { backoff: '10s', maxBackoff: '1s' } }, /^breaker\.maxBackoff = "1000ms": must be at least breaker\.backoff \(10000 ms\)$/],
  ];
  for (const [document, message] of cases) {
    it(JSON.stringify(document), () => {
      let error: unknown;
      try {
        resolveConfig(document);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(message);
    });
  }

  it('reads a TOML date as a value of the key it is given to, named as written', () => {
    const file = path.join(dir, 'date.toml');
    writeFileSync(file, 'seed = 1979-05-27\n');
    expect(() => loadConfig(file)).toThrow(`${file}: seed = 1979-05-27: must be an integer in [0, 4294967295]`);
  });

  it('refuses an unknown key with the nearest known one', () => {
    expect(() => resolveConfig({ maxConcurentImprovements: 3 })).toThrow(
      /^maxConcurentImprovements = 3: is not a configuration key; did you mean "maxConcurrentImprovements"\?/,
    );
    expect(() => resolveConfig({ watchdog: { everystep: 10 } })).toThrow(/did you mean "watchdog\.everySteps"\?/);
    expect(() => resolveConfig({ gauntlett: { benchSteps: 2 } })).toThrow(/^gauntlett = Object: is not a configuration key; did you mean "gauntlet"\?/);
    expect(() => resolveConfig({ zzzzzzzzzzzzzz: 1 })).toThrow(/^zzzzzzzzzzzzzz = 1: is not a configuration key \(/);
  });

  it('names the file, the line and the column of a TOML syntax error, and the key whose value it is in', () => {
    const bad = file('maxConcurrentImprovements = 3\n[watch]\nwindow = "4s\n');
    expect(() => loadConfig(bad)).toThrow(`${bad}:3:13: watch.window: TOML syntax error: control characters are not allowed in strings`);
    const header = file('[watch\nwindow = "4s"\n');
    expect(() => loadConfig(header)).toThrow(new RegExp(`^${header.replace(/[.]/g, '\\.')}:1:7: TOML syntax error: illegal character in key$`));
  });

  it("names the key, the value as written and the key's limit of an integer too large for TOML", () => {
    const bad = file('# a seed of 2^64 + 1\nseed = 18_446_744_073_709_551_617 # too large\n');
    expect(() => loadConfig(bad)).toThrow(
      `${bad}:2:8: seed = 18_446_744_073_709_551_617: TOML syntax error: integer value cannot be represented losslessly; seed must be an integer in [0, 4294967295]`,
    );
    try {
      loadConfig(bad);
    } catch (error) {
      expect((error as ConfigError).key).toBe('seed');
    }
    const extent = file('[lattice]\nextents = [\n  4096,\n  99999999999999999999,\n]\n');
    expect(() => loadConfig(extent)).toThrow(
      `${extent}:4:3: lattice.extents = 99999999999999999999: TOML syntax error: integer value cannot be represented losslessly; lattice.extents each extent must be an integer in [3, 16777216]`,
    );
  });

  it('finds the key of a position through tables, dotted keys, arrays over lines and inline tables', () => {
    const text = [
      'seed = 7 # [not a header]', // 1
      'name = "a = [b"', // 2
      '[gauntlet]', // 3
      'benchSteps = 9', // 4
      'limits = { cpu = { seconds = 5 }, targetExtents = [1, 2] }', // 5
      '[watch]', // 6
      'watch.window = "1s"', // 7
    ].join('\n');
    expect(tomlKeyAt(text, 1, 8)).toBe('seed');
    // The key itself, and a position past a comment that looks like a header, are in no value.
    expect(tomlKeyAt(text, 1, 1)).toBeNull();
    expect(tomlKeyAt(text, 2, 15)).toBe('name');
    expect(tomlKeyAt(text, 3, 3)).toBeNull();
    expect(tomlKeyAt(text, 4, 14)).toBe('gauntlet.benchSteps');
    expect(tomlKeyAt(text, 5, 30)).toBe('gauntlet.limits.cpu.seconds');
    expect(tomlKeyAt(text, 5, 55)).toBe('gauntlet.limits.targetExtents');
    expect(tomlKeyAt(text, 7, 17)).toBe('watch.watch.window');
    expect(tomlKeyAt(text, 8, 1)).toBeNull();
  });

  it('names the file and the key of a bad value in a file', () => {
    const bad = file('[watchdog]\neverySteps = -1\n');
    expect(() => loadConfig(bad)).toThrow(`${bad}: watchdog.everySteps = -1: must be an integer in [1, 1099511627776]`);
    try {
      loadConfig(bad);
    } catch (error) {
      expect((error as ConfigError).key).toBe('watchdog.everySteps');
    }
  });

  it('names a missing file', () => {
    expect(() => loadConfig(path.join(dir, 'absent.toml'))).toThrow(/absent\.toml": cannot be read \(ENOENT/);
  });
});

describe('the watchdog', () => {
  it("bounds the checks' cost to 1% of the run and checks the whole lattice every two minutes by default, never at '0s'", () => {
    expect(watchdogOptions(defaultConfig)).toEqual({
      everySteps: 50,
      driftTolerance: 1e-9,
      maxCostShare: 0.01,
      differential: { fullCheckEveryMs: 120_000, coneEverySteps: 50 },
    });
    expect(() => resolveConfig({ watchdog: { maxCostShare: 0 } })).toThrow(/watchdog\.maxCostShare = 0/);
    expect(watchdogOptions(resolveConfig({ watchdog: { fullCheckEvery: '0s' } })).differential).toEqual({ fullCheckEveryMs: 0, coneEverySteps: 50 });
    expect(() => resolveConfig({ watchdog: { fullCheckEvery: '2h' } })).toThrow(/watchdog\.fullCheckEvery = "2h": must be between 0 ms and 3600000 ms/);
  });

  it("accepts the lattice precision's own drift unless watchdog.driftTolerance names another", () => {
    // An f32 lattice's own kernel drifts 1e-7 within 50 steps: at f64's 1e-9 every check failed and rolled the state
    // back, and an f32 main job ran 71833 steps to end at step 23.
    const f32 = resolveConfig({ lattice: { precision: 'f32' } });
    expect(driftTolerance(f32)).toBe(1e-4);
    expect(watchdogOptions(f32).driftTolerance).toBe(1e-4);
    expect(driftTolerance(defaultConfig)).toBe(1e-9);
    expect(driftTolerance(resolveConfig({ lattice: { precision: 'f32' }, watchdog: { driftTolerance: 1e-6 } }))).toBe(1e-6);
    expect(driftTolerance(resolveConfig({ watchdog: { driftTolerance: 1e-11 } }))).toBe(1e-11);
    expect(() => resolveConfig({ watchdog: { driftTolerance: -1e-9 } })).toThrow(/watchdog\.driftTolerance = -1e-9/);
  });

  it("passes the cone probes' spacing down to the lattice's watchdog, 0 turning them off, and names the key and its limits", () => {
    expect(watchdogOptions(resolveConfig({ watchdog: { coneEverySteps: 7 } })).differential).toMatchObject({ coneEverySteps: 7 });
    expect(watchdogOptions(resolveConfig({ watchdog: { coneEverySteps: 0 } })).differential).toMatchObject({ coneEverySteps: 0 });
    expect(() => resolveConfig({ watchdog: { coneEverySteps: -1 } })).toThrow(/watchdog\.coneEverySteps = -1: .*0.*1099511627776/);
    expect(() => resolveConfig({ watchdog: { coneEverySteps: 2.5 } })).toThrow(/watchdog\.coneEverySteps = 2\.5: .*integer/);
  });
});

describe('overrides', () => {
  it('reads a partial file and keeps every other default', () => {
    const config = loadConfig(file('maxConcurrentImprovements = 1\n[watch]\nwindow = "750ms"\n[generator]\nkind = "random"\n'));
    expect(config.maxConcurrentImprovements).toBe(1);
    expect(config.watch).toEqual({ windowMs: 750, minSteps: 10 });
    expect(config.generator.kind).toBe('random');
    expect(config.gauntlet).toEqual(defaultConfig.gauntlet);
  });
});
