/**
 * The engine's configuration: `ouroboros.toml` read with smol-toml and
 * checked against CONFIG_SCHEMA. Every error names the key path, the value
 * and the limit; an unknown key is an error with the nearest known key; a
 * TOML syntax error names the file, the line and the column.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { TomlError, parse } from 'smol-toml';
import { redactUrl } from '../archive/postgres-connection.js';
import { isPostgresUrl } from '../archive/postgres-schema.js';
import { describe } from '../errors.js';
import { CONFIG_SCHEMA, type ConfigKey, type DefaultValue, type EngineConfig, type KeyType } from './config-schema.js';
import { tomlKeyAt } from './toml-key-at.js';
import { readBoundedText } from '../util/bounded-read.js';

export {
  CONFIG_SCHEMA,
  GENERATOR_KINDS,
  SPEED_JUDGES,
  type ConfigKey,
  type EngineConfig,
  type GeneratorKind,
  type KeyType,
  type SpeedJudge,
} from './config-schema.js';

/** Where the archive is: archive.url when set (a PostgreSQL database), else the SQLite file archive.path. */
export function archiveLocation(archive: EngineConfig['archive']): string {
  return archive.url !== '' ? archive.url : archive.path;
}

/** The file `loadConfig()` reads when given none, relative to the working directory. */
export const DEFAULT_CONFIG_FILE = 'ouroboros.toml';

/** A configuration that cannot be used; the message names the key (and the file, when there is one). */
export class ConfigError extends Error {
  constructor(
    message: string,
    /** The dotted key path at fault, or null for a syntax error. */
    readonly key: string | null,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

const DURATION_UNITS_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "250ms" -> 250; null when the text is not a number followed by one of us, ms, s, m, h. */
export function parseDurationMs(text: string): number | null {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|m|h)\s*$/.exec(text);
  if (!match) return null;
  return Number(match[1]) * DURATION_UNITS_MS[match[2]!]!;
}

function keyError(key: string, value: unknown, limit: string): ConfigError {
  return new ConfigError(`${key} = ${describe(value)}: ${limit}`, key);
}

function rangeText(type: Extract<KeyType, { kind: 'number' }>): string {
  const low = type.minExclusive ? `(${type.min}` : `[${type.min}`;
  const high = type.maxExclusive ? `${type.max})` : `${type.max}]`;
  return `${low}, ${high}`;
}

/** The limit of a key whose value is an integer or holds integers, as its errors state it; null for other kinds. */
function integerLimit(type: KeyType): string | null {
  if (type.kind === 'integer') return `must be an integer in [${type.min}, ${type.max}]`;
  if (type.kind === 'extents') return `each extent must be an integer in [${type.minExtent}, ${type.maxExtent}]`;
  return null;
}

function checkValue(key: string, type: KeyType, value: unknown): unknown {
  switch (type.kind) {
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < type.min || value > type.max) {
        throw keyError(key, value, integerLimit(type)!);
      }
      return value;
    case 'number': {
      const ok =
        typeof value === 'number' &&
        Number.isFinite(value) &&
        (type.minExclusive ? value > type.min : value >= type.min) &&
        (type.maxExclusive ? value < type.max : value <= type.max);
      if (!ok) throw keyError(key, value, `must be a number in ${rangeText(type)}`);
      return value;
    }
    case 'duration': {
      const ms = typeof value === 'string' ? parseDurationMs(value) : null;
      if (ms === null) throw keyError(key, value, 'must be a duration with a unit (us, ms, s, m, h), such as "2s" or "500ms"');
      if (ms < type.minMs || ms > type.maxMs) {
        throw keyError(key, value, `must be between ${type.minMs} ms and ${type.maxMs} ms`);
      }
      return ms;
    }
    case 'string':
      if (typeof value !== 'string') throw keyError(key, value, 'must be a string');
      if (!type.allowEmpty && value.trim() === '') throw keyError(key, value, 'must not be empty');
      return value;
    case 'enum':
      if (typeof value !== 'string' || !type.values.includes(value)) {
        throw keyError(key, value, `must be one of ${type.values.map((v) => JSON.stringify(v)).join(', ')}`);
      }
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw keyError(key, value, 'must be true or false');
      return value;
    case 'extents':
      if (type.allowEmpty === true && Array.isArray(value) && value.length === 0) return [];
      if (!Array.isArray(value) || value.length < 1 || value.length > type.maxAxes) {
        throw keyError(key, value, `must be an array of 1 to ${type.maxAxes} integers, such as [2048, 2048]`);
      }
      value.forEach((extent: unknown, axis) => {
        if (typeof extent !== 'number' || !Number.isInteger(extent) || extent < type.minExtent || extent > type.maxExtent) {
          throw keyError(`${key}[${axis}]`, extent, integerLimit(type)!);
        }
      });
      return [...value] as number[];
  }
}

/** Levenshtein distance, for the did-you-mean of an unknown key. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

const KNOWN_KEYS: readonly string[] = CONFIG_SCHEMA.map((key) => key.path);
const KNOWN_TABLES = new Set(
  KNOWN_KEYS.flatMap((key) =>
    key
      .split('.')
      .slice(0, -1)
      .map((_, i, parts) => parts.slice(0, i + 1).join('.')),
  ),
);

function unknownKeyError(key: string, value: unknown): ConfigError {
  const candidates = [...KNOWN_KEYS, ...KNOWN_TABLES];
  const nearest = candidates.reduce((best, known) => (editDistance(key, known) < editDistance(key, best) ? known : best));
  const hint = editDistance(key, nearest) <= Math.max(3, Math.floor(key.length / 3)) ? `; did you mean "${nearest}"?` : '';
  return keyError(key, value, `is not a configuration key${hint} (the keys are listed in ouroboros.toml)`);
}

/** A TOML table; a TOML date or time (a Date object) is a value, not a table. */
function isTable(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date);
}

/** Every leaf of a parsed document as [dotted path, value]; tables the schema knows are descended into. */
function leaves(table: Record<string, unknown>, prefix = ''): Array<[string, unknown]> {
  return Object.entries(table).flatMap(([name, value]): Array<[string, unknown]> => {
    const key = prefix === '' ? name : `${prefix}.${name}`;
    if (isTable(value)) {
      if (!KNOWN_TABLES.has(key)) throw unknownKeyError(key, value);
      return leaves(value, key);
    }
    return [[key, value]];
  });
}

function resolvedName(key: ConfigKey): string[] {
  const parts = key.path.split('.');
  if (key.type.kind === 'duration') parts[parts.length - 1] += 'Ms';
  return parts;
}

function setPath(target: Record<string, unknown>, parts: string[], value: unknown): void {
  let table = target;
  for (const part of parts.slice(0, -1)) {
    table[part] ??= {};
    table = table[part] as Record<string, unknown>;
  }
  table[parts[parts.length - 1]!] = value;
}

function checkRelations(config: EngineConfig): void {
  if (config.archive.url !== '' && !isPostgresUrl(config.archive.url)) {
    throw keyError(
      'archive.url',
      redactUrl(config.archive.url),
      'must be a PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DB), or empty for the SQLite file archive.path',
    );
  }
  const limit = 1 / Math.sqrt(config.lattice.extents.length);
  if (config.lattice.dt >= limit) {
    throw keyError(
      'lattice.dt',
      config.lattice.dt,
      `the Courant number dt (c = h = 1) must be below 1 / sqrt(${config.lattice.extents.length}) = ${limit.toPrecision(6)}`,
    );
  }
  if (config.breaker.maxBackoffMs < config.breaker.backoffMs) {
    throw keyError('breaker.maxBackoff', `${config.breaker.maxBackoffMs}ms`, `must be at least breaker.backoff (${config.breaker.backoffMs} ms)`);
  }
  // A trial's first pair always runs, so a cap below one window could not hold.
  if (config.trial.maxSlowerLiveMs < config.trial.windowMs) {
    throw keyError('trial.maxSlowerLive', `${config.trial.maxSlowerLiveMs}ms`, `must be at least trial.window (${config.trial.windowMs} ms)`);
  }
}

/**
 * The tables resolveConfig() and withFlags() fill key by key, as the
 * EngineConfig they are: the one assertion between the two, which the
 * compiler cannot check. The tables are built by a loop over CONFIG_SCHEMA's
 * rows (setPath on each dotted path), and a type follows such a loop only
 * through an object literal with one property per row: the second list of
 * keys that deriving EngineConfig from the rows removed. What makes it true
 * is checked instead: resolveConfig() sets every row to a value checkValue()
 * accepted for the row's type (withFlags() starts from a resolved config and
 * sets rows the same way), and tests/config-type.test.ts checks that the
 * resolved leaves are exactly the rows'.
 */
function asEngineConfig(tables: Record<string, unknown>): EngineConfig {
  return tables as EngineConfig;
}

/**
 * Validates a configuration shaped like the TOML file (tables as nested
 * objects, durations as strings with units) and fills in every default.
 */
export function resolveConfig(document: Record<string, unknown> = {}): EngineConfig {
  if (!isTable(document)) throw new ConfigError(`configuration = ${describe(document)}: must be a table of keys`, null);
  const given = new Map(leaves(document));
  for (const [key, value] of given) {
    if (!KNOWN_KEYS.includes(key)) throw unknownKeyError(key, value);
  }
  const config: Record<string, unknown> = {};
  for (const key of CONFIG_SCHEMA) {
    const value: unknown = given.has(key.path) ? given.get(key.path) : key.default;
    setPath(config, resolvedName(key), checkValue(key.path, key.type, value));
  }
  const resolved = asEngineConfig(config);
  checkRelations(resolved);
  return resolved;
}

/** A command-line flag that sets a configuration key. */
export interface FlagOverride {
  /** The flag as the user typed it, e.g. "--seed": what an error names. */
  flag: string;
  /** The key it sets, e.g. "seed". */
  key: string;
  /** The value as the file would hold it (a duration as text with its unit). */
  value: unknown;
}

/**
 * `config` with the flags applied, each checked exactly as the same value in
 * the file would be (one schema for both), then the relations between keys;
 * an error names the flag, the value and the limit.
 */
export function withFlags(config: EngineConfig, flags: readonly FlagOverride[]): EngineConfig {
  const result: Record<string, unknown> = structuredClone(config);
  for (const { flag, key, value } of flags) {
    const spec = CONFIG_SCHEMA.find((candidate) => candidate.path === key);
    if (spec === undefined) throw new Error(`${flag} sets ${key}, which is not a configuration key`);
    setPath(result, resolvedName(spec), checkValue(flag, spec.type, value));
  }
  const resolved = asEngineConfig(result);
  try {
    checkRelations(resolved);
  } catch (error) {
    const flag = error instanceof ConfigError ? flags.find((candidate) => candidate.key === error.key)?.flag : undefined;
    if (flag === undefined) throw error;
    throw new ConfigError(`${flag}: ${(error as Error).message}`, flag);
  }
  return resolved;
}

/** Every key at its default. */
export const defaultConfig: EngineConfig = resolveConfig({});

/** A configuration file is a few kilobytes; this is far above any and far below a device that never ends. */
const MAX_CONFIG_BYTES = 1 << 20;

/**
 * Reads and validates a TOML configuration. With no file, reads
 * ./ouroboros.toml when it exists, else returns the defaults.
 */
export function loadConfig(file?: string): EngineConfig {
  const chosen = file ?? DEFAULT_CONFIG_FILE;
  if (file === undefined && !existsSync(chosen)) return resolveConfig({});
  let text: string;
  try {
    text = readBoundedText('config file', path.resolve(chosen), MAX_CONFIG_BYTES);
  } catch (error) {
    throw new ConfigError((error as Error).message, null);
  }
  let document: Record<string, unknown>;
  try {
    document = parse(text) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof TomlError) throw tomlSyntaxError(path.resolve(chosen), text, error);
    throw error;
  }
  try {
    return resolveConfig(document);
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`${path.resolve(chosen)}: ${error.message}`, error.key);
    throw error;
  }
}

/**
 * A TOML syntax error with the file, line and column, and, when the
 * position is inside a key's value (an integer TOML cannot hold exactly,
 * such as a seed of 2^64), the key, the value as written and the key's limit.
 */
function tomlSyntaxError(file: string, text: string, error: TomlError): ConfigError {
  const reason = error.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
  const where = `${file}:${error.line}:${error.column}`;
  const key = tomlKeyAt(text, error.line, error.column);
  if (key === null) return new ConfigError(`${where}: TOML syntax error: ${reason}`, null);
  const written = /^[^\s,\]}#]+/.exec(text.split(/\r?\n/)[error.line - 1]!.slice(error.column - 1))?.[0];
  const spec = CONFIG_SCHEMA.find((candidate) => candidate.path === key);
  const limit = spec === undefined ? null : integerLimit(spec.type);
  return new ConfigError(`${where}: ${key}${written ? ` = ${written}` : ''}: TOML syntax error: ${reason}${limit ? `; ${key} ${limit}` : ''}`, key);
}

/** The default value of a key as it is written in TOML, for docs and the default file. */
export function tomlDefault(value: DefaultValue): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.join(', ')}]`;
  return String(value);
}
