/**
 * The peer a Node user would write: the same 2-D leapfrog update over plain
 * typed arrays, with periodic wrap, stepping u^{n+1} in place over u^{n-1}.
 */
import type { FieldArray } from '../../native/addon-types.js';

export class TypeScriptPeer2d {
  #previous: FieldArray;
  #current: FieldArray;

  constructor(
    readonly rows: number,
    readonly columns: number,
    readonly courant2: number,
    previous: FieldArray,
    current: FieldArray,
  ) {
    this.#previous = previous.slice();
    this.#current = current.slice();
  }

  get current(): FieldArray {
    return this.#current;
  }

  step(): void {
    const { rows, columns, courant2 } = this;
    const u = this.#current;
    const next = this.#previous;
    for (let y = 0; y < rows; y++) {
      const row = y * columns;
      const up = (y === 0 ? rows - 1 : y - 1) * columns;
      const down = (y === rows - 1 ? 0 : y + 1) * columns;
      for (let x = 0; x < columns; x++) {
        const left = x === 0 ? columns - 1 : x - 1;
        const right = x === columns - 1 ? 0 : x + 1;
        const centre = u[row + x]!;
        const laplacian = u[up + x]! + u[down + x]! - 2 * centre + (u[row + left]! + u[row + right]! - 2 * centre);
        next[row + x] = 2 * centre - next[row + x]! + courant2 * laplacian;
      }
    }
    this.#previous = u;
    this.#current = next;
  }
}
