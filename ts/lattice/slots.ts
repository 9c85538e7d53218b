/** The kernel slots a lattice has: each is one function of the kernel ABI, swappable on its own. */
import type { CoreSlot } from '../../native/addon-types.js';
import { invalidRangeError, invalidTypeError } from '../errors.js';

export type Slot = CoreSlot;
export const SLOTS: readonly Slot[] = ['step', 'readout'];

export function checkSlot(slot: unknown): asserts slot is Slot {
  if (typeof slot !== 'string') throw invalidTypeError('slot', '"step" or "readout"', slot);
  if (!(SLOTS as readonly string[]).includes(slot)) throw invalidRangeError('slot', 'must be "step" or "readout"', slot);
}
