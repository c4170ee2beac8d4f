/*
 * exp on four f32 lanes for the wasm kernels (wasm/step, wasm/gelu): 2^n * p(r) with x = n ln2 + r, |r| <= ln2/2,
 * Cephes' polynomial; relative error about 2e-7. Inputs are clamped to [-87, 88]. One copy, included by each.
 */
#ifndef EMOPIA_VEXP_H
#define EMOPIA_VEXP_H
#include <wasm_simd128.h>

static inline v128_t vexp(v128_t x) {
  /* pmin/pmax (b < a ? b : a, a < b ? b : a: one x64 instruction each) clamp as min/max would (a NaN stays NaN),
   * without the canonicalising fix-ups V8 emits for f32x4.min/max */
  x = wasm_f32x4_pmax(wasm_f32x4_pmin(x, wasm_f32x4_splat(88.0f)), wasm_f32x4_splat(-87.0f));
  /* n = nearest(x log2 e) by adding 1.5 * 2^23 (the sum's rounding is round-half-even to an integer for
   * |x log2 e| < 2^22, as f32x4.nearest's) and subtracting it again; the sum's low bits hold n, so 2^n is
   * (bits + 127) << 23 (n + 127 lies in [1, 254] after the clamp), without f32x4.nearest and i32x4.trunc_sat */
  const v128_t magic = wasm_f32x4_splat(0x1.8p23f);
  v128_t nm = wasm_f32x4_add(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)), magic);
  v128_t n = wasm_f32x4_sub(nm, magic);
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(-2.12194440e-4f)));
  v128_t p = wasm_f32x4_splat(1.9875691500e-4f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.3981999507e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(8.3334519073e-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(4.1665795894e-2f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.6666665459e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(5.0000001201e-1f));
  p = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_mul(p, r), r), wasm_f32x4_add(r, wasm_f32x4_splat(1.0f)));
  v128_t e = wasm_i32x4_shl(wasm_i32x4_add(nm, wasm_i32x4_splat(127)), 23);
  return wasm_f32x4_mul(p, e);
}

#endif
