/** Whether two fields hold the same bytes: the bitwise equality the physics tests ask for, NaNs and signed zeros included. */
export function sameBits(a: Float64Array | Float32Array, b: Float64Array | Float32Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}
