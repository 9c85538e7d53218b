export { add, compare, format, fromInt, mul, neg, sub, toInt } from './nonary.js';
export type { Nonary } from './nonary.js';
