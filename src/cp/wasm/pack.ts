/**
 * The packed weight layout of the `wasm` engine's matrix-vector products (wasm/step/step.c): a Linear's weight
 * W (in, out), row-major as tfjs stores it, becomes [ceil(out/16)][in][16], so that the 16 outputs of one block
 * read 64 contiguous bytes per input value (four f32x4 loads); the outputs past `out` are zero, and the bias is
 * padded with zeros to a multiple of 16.
 */

/** n rounded up to a multiple of 16 (the width of an output block and of every activation row). */
export function pad16(n: number): number {
  return Math.ceil(n / 16) * 16;
}

/** W (in, out) row-major -> [pad16(out)/16][in][16]. */
export function packMatrix(w: Float32Array, inF: number, outF: number): Float32Array {
  if (w.length !== inF * outF) throw new RangeError(`packMatrix: expected ${inF} x ${outF} = ${inF * outF} values, got ${w.length}`);
  const p = new Float32Array(pad16(outF) * inF); // (pad16(out)/16, in, 16)
  for (let k = 0; k < inF; k++) {
    for (let o = 0; o < outF; o++) p[((o >> 4) * inF + k) * 16 + (o & 15)] = w[k * outF + o] as number;
  }
  return p;
}

/** The inverse of packMatrix: [pad16(out)/16][in][16] -> W (in, out) row-major. */
export function unpackMatrix(p: Float32Array, inF: number, outF: number): Float32Array {
  if (p.length !== pad16(outF) * inF) throw new RangeError(`unpackMatrix: expected ${pad16(outF) * inF} values, got ${p.length}`);
  const w = new Float32Array(inF * outF); // (in, out)
  for (let k = 0; k < inF; k++) {
    for (let o = 0; o < outF; o++) w[k * outF + o] = p[((o >> 4) * inF + k) * 16 + (o & 15)] as number;
  }
  return w;
}

/** A bias (out,) padded with zeros to pad16(out). */
export function padVector(b: Float32Array): Float32Array {
  const p = new Float32Array(pad16(b.length)); // (pad16(out),)
  p.set(b);
  return p;
}
