/**
 * Argument checks shared by the public API. Every message names the parameter,
 * the value it got and what is allowed, e.g.
 * `extents[1] = 2: each extent must be an integer >= 3`.
 */

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as unknown as ArrayLike<unknown>).length})`;
  if (value === null || typeof value !== 'object') return String(value);
  // A date as ISO text (smol-toml's TomlDate gives a TOML date back as it was written, e.g. 1979-05-27).
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  return value.constructor?.name ?? 'object';
}

/** A value of the wrong type: `name = value: must be expected`. */
export function invalidTypeError(name: string, expected: string, value: unknown): TypeError {
  return new TypeError(`${name} = ${describe(value)}: must be ${expected}`);
}

/** A value of the right type outside its allowed range. */
export function invalidRangeError(name: string, expected: string, value: unknown): RangeError {
  return new RangeError(`${name} = ${describe(value)}: ${expected}`);
}

export function requireFiniteNumber(name: string, value: unknown): number {
  if (typeof value !== 'number') throw invalidTypeError(name, 'a finite number', value);
  if (!Number.isFinite(value)) throw invalidRangeError(name, 'must be a finite number', value);
  return value;
}

export function requirePositiveNumber(name: string, value: unknown): number {
  const number = requireFiniteNumber(name, value);
  if (number <= 0) throw invalidRangeError(name, 'must be a finite number > 0', value);
  return number;
}

/** An integer in [min, max]; the message states both bounds. */
export function requireInteger(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw invalidTypeError(name, `an integer in [${min}, ${max}]`, value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidRangeError(name, `must be an integer in [${min}, ${max}]`, value);
  }
  return value;
}

/** Raised when a field holds NaN or an infinity where a number is needed. */
export class NonFiniteFieldError extends RangeError {
  constructor(
    message: string,
    /** Row-major index of the first offending cell. */
    readonly cellIndex: number,
  ) {
    super(message);
    this.name = 'NonFiniteFieldError';
  }
}
