/**
 * The host engines' feature map of linear attention, phi(x) = elu(x) + 1, computed to the bit as the tfjs wasm
 * backend computes `tf.add(tf.elu(x), 1)` (attention.ts `phi`, what training and the `tensor` engine run).
 *
 * Why not exp(x): in float32, elu(x) + 1 is not exp(x). elu(x) lies in (-1, 0) for x < 0, where float32's spacing
 * near -1 is 2^-24, and adding 1 keeps that grid: phi(x) is a multiple of 2^-24 (~6e-8) for x below about -0.7, and
 * 0 below -24.5 ln2 (about -16.98), where exp(x) is not. A head whose normaliser phi(q).z + 1e-6 sits near the eps on its first
 * words (the shipped default has one, 5.5e-6) amplifies that difference to 0.04 in the logits.
 *
 * What tfjs-backend-wasm 4.22's Elu kernel computes (found by comparing it on 10^6 inputs, bit-equal): XNNPACK's
 * f32 ELU micro-kernel `rr2-p6` (wasmsimd, x86 flavour), expm1 as 2^n (p(t) t + t) + (2^n - 1) with
 * x = n ln2 + t (ln2 split in two), a degree-6 polynomial p, every operation one float32 rounding (no FMA),
 * and inputs at or below the saturation cutoff -17.33 giving -1 (from -24.5 ln2 down, 2^n - 1 already rounds
 * to -1). Reproduced here with Math.fround on every
 * operation, and in wasm/step/step.c (`vphi`) with f32x4 operations in the same order. tfjs's `cpu` backend
 * computes float32(exp(x) - 1) instead (in float64 first); the two differ by one float32 step of elu (~6e-8) on
 * about 1% of inputs (measured), so on `cpu` the host engines are within that step of the `tensor` engine's phi.
 */
const f = Math.fround;

const SAT_CUTOFF = f(-17.32868003845215); // -0x1.154246p+4
const MAGIC_BIAS = f(12583039); // 0x1.8000FEp23: round-to-integer bias, with 127 (the exponent bias) in its low bits
const LOG2E = f(1.4426950216293335); // 0x1.715476p+0
const MINUS_LN2_HI = f(-0.6931476593017578); // -0x1.62E440p-1
const MINUS_LN2_LO = f(4.787418106388941e-7); // 0x1.0105C6p-21
const C6 = f(0.0013864520005881786); // 0x1.6b7338p-10
const C5 = f(0.008366531692445278); // 0x1.12278Ep-7
const C4 = f(0.041667502373456955); // 0x1.555716p-5
const C3 = f(0.1666654348373413); // 0x1.5554B0p-3
const C2 = f(0.4999999701976776); // 0x1.FFFFFEp-2

const scratch = new DataView(new ArrayBuffer(4));

/** elu(x) + 1 in float32, as tfjs-wasm computes it (x a float32 value). */
export function phiF32(x: number): number {
  if (x >= 0) return f(x + 1);
  let n = f(f(x * LOG2E) + MAGIC_BIAS);
  scratch.setFloat32(0, n);
  scratch.setUint32(0, scratch.getUint32(0) << 23); // 2^round(x log2 e), from n's low bits
  let s = scratch.getFloat32(0);
  n = f(n - MAGIC_BIAS);
  let t = f(f(n * MINUS_LN2_HI) + x);
  t = f(f(n * MINUS_LN2_LO) + t);
  if (x <= SAT_CUTOFF) {
    s = 0;
    t = 0;
  }
  let p = f(f(C6 * t) + C5);
  p = f(f(p * t) + C4);
  p = f(f(p * t) + C3);
  p = f(f(p * t) + C2);
  p = f(p * t);
  t = f(t * s);
  s = f(s - 1);
  p = f(f(p * t) + t);
  return f(f(p + s) + 1);
}
