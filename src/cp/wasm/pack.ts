/**
 * The packed weight layout of the `wasm` engine's matrix-vector products (wasm/step/step.c): a Linear's weight
 * W (in, out), row-major as tfjs stores it, becomes [ceil(out/16)][in][16], so that the 16 outputs of one block
 * read 64 contiguous bytes per input value (four f32x4 loads); the outputs past `out` are zero, and the bias is
 * padded with zeros to a multiple of 16. When every weight of a model is exactly a half, the matrices are held as
 * half-precision bits instead (`packHalfMatrix`).
 *
 * The engine packs in the kernel (step.c cp_pack_f32 and cp_pack_half: faster at start-up); the
 * functions here are the same layouts in TypeScript, the reference the tests hold the kernel to.
 */

/** n rounded up to a multiple of 16 (the width of an output block and of every activation row). */
export function pad16(n: number): number {
  return Math.ceil(n / 16) * 16;
}

/**
 * W (in, out) row-major -> [pad16(out)/16][in][16], into `out` (zeros past `out` columns are written too) or a new
 * array. Written in order, block by block (a scattered write per value was most of a stepper's start-up).
 */
export function packMatrix(w: Float32Array, inF: number, outF: number, out?: Float32Array): Float32Array {
  if (w.length !== inF * outF) throw new RangeError(`packMatrix: expected ${inF} x ${outF} = ${inF * outF} values, got ${w.length}`);
  const p = out ?? new Float32Array(pad16(outF) * inF); // (pad16(out)/16, in, 16)
  if (p.length !== pad16(outF) * inF) throw new RangeError(`packMatrix: expected room for ${pad16(outF) * inF} values, got ${p.length}`);
  let at = 0;
  for (let o0 = 0; o0 < outF; o0 += 16) {
    const n = Math.min(16, outF - o0);
    for (let k = 0; k < inF; k++, at += 16) {
      const row = k * outF + o0;
      let j = 0;
      for (; j < n; j++) p[at + j] = w[row + j] as number;
      for (; j < 16; j++) p[at + j] = 0;
    }
  }
  return p;
}

/**
 * The IEEE half-precision bits of the float32 whose bits are `u` (as int32 or uint32) when it is exactly a half (normal or subnormal,
 * either sign, zero included), else -1.
 */
export function halfBitsOf(u: number): number {
  const a = u & 0x7fffffff;
  // The common case first: a normal half (float32 exponent 113..142, 2^-14 .. 2^15) with 13 low zero bits.
  if (a >= 0x38800000 && a < 0x47800000 && (a & 0x1fff) === 0) return ((u >>> 16) & 0x8000) | ((a - 0x38000000) >>> 13);
  const sign = (u >>> 16) & 0x8000;
  if (a === 0) return sign;
  const e = a >>> 23; // biased float32 exponent
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
 * f16 weights, wasm/step/step.c `matvec_h`), into `out` or a new array; null when some weight is not exactly a
 * half (the matrix then stays float32; `out` may be partly written).
 */
export function packHalfMatrix(w: Float32Array, inF: number, outF: number, out?: Uint16Array): Uint16Array | null {
  if (w.length !== inF * outF) throw new RangeError(`packHalfMatrix: expected ${inF} x ${outF} = ${inF * outF} values, got ${w.length}`);
  const p = out ?? new Uint16Array(pad16(outF) * inF); // (pad16(out)/16, in, 16)
  if (p.length !== pad16(outF) * inF) throw new RangeError(`packHalfMatrix: expected room for ${pad16(outF) * inF} values, got ${p.length}`);
  const bits = new Int32Array(w.buffer, w.byteOffset, w.length); // Int32: small integers for V8 (a Uint32 above 2^31 is a double)
  let at = 0;
  for (let o0 = 0; o0 < outF; o0 += 16) {
    const n = Math.min(16, outF - o0);
    for (let k = 0; k < inF; k++, at += 16) {
      const row = k * outF + o0;
      for (let j = 0; j < 16; j++) {
        const h = j < n ? halfBitsOf(bits[row + j] as number) : 0;
        if (h < 0) return null;
        p[at + halfSlot(j)] = h;
      }
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
