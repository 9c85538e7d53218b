/**
 * Parsers for option values. Each throws commander's InvalidArgumentError, so
 * the user sees the option, the value and what is allowed, and exit status 2.
 */
import { InvalidArgumentError } from 'commander';

export function parseNumber(value: string): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number)) throw new InvalidArgumentError(`"${value}" is not a number.`);
  return number;
}

export function parseInteger(value: string): number {
  const number = parseNumber(value);
  if (!Number.isSafeInteger(number)) throw new InvalidArgumentError(`"${value}" is not an integer.`);
  return number;
}

export function parseExtents(value: string): number[] {
  return value.split(',').map((part) => {
    const number = Number(part);
    if (part.trim() === '' || !Number.isFinite(number)) {
      throw new InvalidArgumentError(`"${value}" is not a comma-separated list of integers such as 256,256.`);
    }
    return number;
  });
}

const DURATION_UNITS_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, m: 60e3 };

function formatMs(ms: number): string {
  return ms >= 1000 && ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** A parser for durations such as 100ms, 2s, 1.5m, bounded to [minMs, maxMs]; yields milliseconds. */
export function durationParser(minMs: number, maxMs: number): (value: string) => number {
  const range = `from ${formatMs(minMs)} to ${formatMs(maxMs)}`;
  return (value) => {
    const match = /^(\d+(?:\.\d+)?)(us|ms|s|m)$/.exec(value.trim());
    if (!match) throw new InvalidArgumentError(`"${value}" is not a duration: use a number and a unit (us, ms, s, m) such as 100ms or 2s.`);
    const ms = Number(match[1]) * DURATION_UNITS_MS[match[2]!]!;
    if (ms < minMs || ms > maxMs) throw new InvalidArgumentError(`${value} is out of range: must be ${range}.`);
    return ms;
  };
}

/** A comma-separated list of module files, e.g. a.so,b.so. */
export function parseModuleList(value: string): string[] {
  const files = value.split(',').map((part) => part.trim());
  if (files.some((file) => file === '')) {
    throw new InvalidArgumentError(`"${value}" is not a comma-separated list of module files such as a.so,b.so.`);
  }
  return files;
}
