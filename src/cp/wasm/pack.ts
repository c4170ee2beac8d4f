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

/**
 * The IEEE half-precision bits of the float32 whose bits are `u` when it is exactly a half (normal or subnormal,
 * either sign, zero included), else -1.
 */
export function halfBitsOf(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a === 0) return sign;
  const e = a >>> 23; // biased float32 exponent
  if (e >= 113 && e <= 142) return a & 0x1fff ? -1 : sign | ((e - 112) << 10) | ((a >>> 13) & 0x3ff); // 2^-14 .. 2^15
  if (e >= 103 && e < 113) {
    // A half subnormal k 2^-24: the float32's significand (2^23 + m) 2^(e - 150) shifted right by 126 - e, exactly.
    const sig = (a & 0x7fffff) | 0x800000;
    const shift = 126 - e;
    return sig & ((1 << shift) - 1) ? -1 : sign | (sig >>> shift);
  }
  return -1;
}

/**
 * Where output o (0..15) of a block sits among the 16 halves of one of its rows: outputs 0-3 in the even slots of
 * the first 8, 4-7 in their odd slots, 8-11 and 12-15 likewise in the last 8 (the kernel widens even and odd
 * halves with different shifts; step.c `HALF_ROW`).
 */
export function halfSlot(o: number): number {
  return (o & 8) + 2 * (o & 3) + ((o >> 2) & 1);
}

/**
 * packMatrix's blocks with every weight as half-precision bits, in `halfSlot` order within a row (the kernel's
 * f16 weights, wasm/step/step.c `matvec_h`), or null when some weight is not exactly a half (the matrix then
 * stays float32).
 */
export function packHalfMatrix(w: Float32Array, inF: number, outF: number): Uint16Array | null {
  if (w.length !== inF * outF) throw new RangeError(`packHalfMatrix: expected ${inF} x ${outF} = ${inF * outF} values, got ${w.length}`);
  const bits = new Uint32Array(w.buffer, w.byteOffset, w.length);
  const p = new Uint16Array(pad16(outF) * inF); // (pad16(out)/16, in, 16)
  for (let k = 0; k < inF; k++) {
    const row = k * outF;
    for (let o = 0; o < outF; o++) {
      const h = halfBitsOf(bits[row + o] as number);
      if (h < 0) return null;
      p[((o >> 4) * inF + k) * 16 + halfSlot(o & 15)] = h;
    }
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
