/*
 * erf on four f32 lanes for the wasm kernels (wasm/step, wasm/gelu): Abramowitz and Stegun 7.1.26, absolute error
 * below 1.5e-7, given u and exp(-u^2) (which the GELU gradient needs too, so the caller computes it once).
 */
#ifndef EMOPIA_VERF_H
#define EMOPIA_VERF_H
#include <wasm_simd128.h>

static inline v128_t verf_given_exp(v128_t u, v128_t expm) {
  v128_t z = wasm_f32x4_abs(u);
  v128_t t = wasm_f32x4_div(wasm_f32x4_splat(1.0f), wasm_f32x4_add(wasm_f32x4_splat(1.0f), wasm_f32x4_mul(z, wasm_f32x4_splat(0.3275911f))));
  v128_t p = wasm_f32x4_splat(1.061405429f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), wasm_f32x4_splat(-1.453152027f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), wasm_f32x4_splat(1.421413741f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), wasm_f32x4_splat(-0.284496736f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), wasm_f32x4_splat(0.254829592f));
  p = wasm_f32x4_mul(p, t);
  v128_t e = wasm_f32x4_sub(wasm_f32x4_splat(1.0f), wasm_f32x4_mul(p, expm));
  return wasm_v128_or(e, wasm_v128_and(u, wasm_i32x4_splat((int)0x80000000))); /* the sign of u */
}

#endif
