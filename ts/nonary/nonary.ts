/**
 * Balanced nonary (base 9, digits -4..+4) integers of any length.
 *
 * A number is an Int8Array of digits, least significant first. Inputs may carry
 * high zero digits (an empty array is 0); every result is canonical: no high
 * zero digits, and zero is exactly one digit, [0]. Balanced digits make
 * negation digit-wise and need no sign.
 */
import { invalidRangeError, invalidTypeError } from '../errors.js';

export type Nonary = Int8Array;

const BASE = 9n;
const MAX_DIGIT = 4;

function checkDigits(name: string, digits: unknown): Nonary {
  if (!(digits instanceof Int8Array)) {
    throw invalidTypeError(name, 'an Int8Array of balanced nonary digits (-4..4, least significant first)', digits);
  }
  for (let i = 0; i < digits.length; i++) {
    const digit = digits[i]!;
    if (digit > MAX_DIGIT || digit < -MAX_DIGIT) {
      throw invalidRangeError(`${name}[${i}]`, 'each balanced nonary digit must be in [-4, 4]', digit);
    }
  }
  return digits;
}

/** Drops high zero digits; zero becomes [0]. */
function canonical(digits: ArrayLike<number>, length = digits.length): Nonary {
  let top = length;
  while (top > 1 && digits[top - 1] === 0) top--;
  const result = new Int8Array(Math.max(top, 1));
  for (let i = 0; i < top; i++) result[i] = digits[i]!;
  return result;
}

/**
 * Writes `values` (any integers) back as balanced digits, propagating carries
 * upward; `values` must have room for the final carries.
 */
function normalise(values: Float64Array | number[]): Nonary {
  let carry = 0;
  for (let i = 0; i < values.length; i++) {
    const value = values[i]! + carry;
    const digit = ((((value + MAX_DIGIT) % 9) + 9) % 9) - MAX_DIGIT;
    carry = (value - digit) / 9;
    values[i] = digit;
  }
  if (carry !== 0) throw new Error(`internal error: nonary carry ${carry} overflowed its buffer`);
  return canonical(values);
}

export function fromInt(n: number | bigint): Nonary {
  let value: bigint;
  if (typeof n === 'bigint') value = n;
  else if (typeof n === 'number' && Number.isSafeInteger(n)) value = BigInt(n);
  else if (typeof n === 'number') {
    throw invalidRangeError('n', 'must be a safe integer (|n| <= 2^53 - 1); pass a bigint for larger values', n);
  } else throw invalidTypeError('n', 'an integer number or a bigint', n);

  const digits: number[] = [];
  while (value !== 0n) {
    let digit = value % BASE;
    if (digit > 4n) digit -= BASE;
    else if (digit < -4n) digit += BASE;
    digits.push(Number(digit));
    value = (value - digit) / BASE;
  }
  return canonical(digits);
}

export function toInt(digits: Nonary): bigint {
  checkDigits('digits', digits);
  let value = 0n;
  for (let i = digits.length - 1; i >= 0; i--) value = value * BASE + BigInt(digits[i]!);
  return value;
}

export function add(a: Nonary, b: Nonary): Nonary {
  checkDigits('a', a);
  checkDigits('b', b);
  const sums = new Float64Array(Math.max(a.length, b.length) + 1);
  for (let i = 0; i < a.length; i++) sums[i]! += a[i]!;
  for (let i = 0; i < b.length; i++) sums[i]! += b[i]!;
  return normalise(sums);
}

export function neg(a: Nonary): Nonary {
  checkDigits('a', a);
  return canonical(Array.from(a, (digit) => (digit === 0 ? 0 : -digit)));
}

export function sub(a: Nonary, b: Nonary): Nonary {
  checkDigits('a', a);
  return add(a, neg(checkDigits('b', b)));
}

export function mul(a: Nonary, b: Nonary): Nonary {
  checkDigits('a', a);
  checkDigits('b', b);
  // Each column sums at most min(len) products of magnitude <= 16, far inside
  // the exact-integer range of a double for any array that fits in memory.
  const columns = new Float64Array(a.length + b.length + 2);
  for (let i = 0; i < a.length; i++) {
    const digit = a[i]!;
    if (digit === 0) continue;
    for (let j = 0; j < b.length; j++) columns[i + j]! += digit * b[j]!;
  }
  return normalise(columns);
}

/** -1, 0 or 1 as a is less than, equal to or greater than b. */
export function compare(a: Nonary, b: Nonary): -1 | 0 | 1 {
  const difference = sub(a, b);
  const top = difference[difference.length - 1]!;
  return top > 0 ? 1 : top < 0 ? -1 : 0;
}

/** The digits as text, most significant first, e.g. "+1 -2 0". */
export function format(digits: Nonary): string {
  checkDigits('digits', digits);
  const text = Array.from(canonical(digits), (d) => (d > 0 ? `+${d}` : String(d)));
  return text.reverse().join(' ');
}
