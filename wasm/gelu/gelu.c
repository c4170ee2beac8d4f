/*
 * GELU (the exact erf form of torch.nn.functional.gelu) and its gradient for wasm32 with 128-bit SIMD:
 *   y  = (x / 2) (1 + erf(x / sqrt 2))
 *   dx = dy ((1 + erf(x / sqrt 2)) / 2 + x exp(-x^2 / 2) / sqrt(2 pi))
 * erf is Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7, the formula tfjs's Erf kernel uses), exp a
 * degree-6 polynomial after range reduction (relative error about 2e-7), as in wasm/step/step.c.
 *
 * No data segment, no stack, imports only the memory: it runs inside tfjs-backend-wasm's heap on the
 * tensors where they lie and writes only its output.
 */
#include <wasm_simd128.h>

typedef v128_t f4;

#include "../common/vexp.h"

#include "../common/verf.h"

static inline f4 gelu4(f4 x) {
  f4 u = wasm_f32x4_mul(x, wasm_f32x4_splat(0.70710678118654752f));
  f4 e = verf_given_exp(u, vexp(wasm_f32x4_neg(wasm_f32x4_mul(u, u))));
  return wasm_f32x4_mul(wasm_f32x4_mul(x, wasm_f32x4_splat(0.5f)), wasm_f32x4_add(wasm_f32x4_splat(1.0f), e));
}

static inline f4 gelu_grad4(f4 x, f4 dy) {
  f4 u = wasm_f32x4_mul(x, wasm_f32x4_splat(0.70710678118654752f));
  f4 expm = vexp(wasm_f32x4_neg(wasm_f32x4_mul(u, u)));
  f4 cdf = wasm_f32x4_mul(wasm_f32x4_add(wasm_f32x4_splat(1.0f), verf_given_exp(u, expm)), wasm_f32x4_splat(0.5f));
  f4 pdf = wasm_f32x4_mul(wasm_f32x4_mul(x, expm), wasm_f32x4_splat(0.39894228040143268f));
  return wasm_f32x4_mul(dy, wasm_f32x4_add(cdf, pdf));
}

__attribute__((export_name("gelu_forward"))) void gelu_forward(int n, const float *x, float *y) {
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, gelu4(wasm_v128_load(x + i)));
  for (; i < n; i++) y[i] = wasm_f32x4_extract_lane(gelu4(wasm_f32x4_splat(x[i])), 0);
}

/*
 * The forward pass with the derivative: y as gelu_forward and d = gelu'(x) as gelu_backward's factor (the same
 * exp and erf, computed once), so the backward pass is dy * d, the bits of gelu_backward, without recomputing them.
 */
static inline f4 gelu_and_grad4(f4 x, f4 *d) {
  f4 u = wasm_f32x4_mul(x, wasm_f32x4_splat(0.70710678118654752f));
  f4 expm = vexp(wasm_f32x4_neg(wasm_f32x4_mul(u, u)));
  f4 e = verf_given_exp(u, expm);
  f4 cdf = wasm_f32x4_mul(wasm_f32x4_add(wasm_f32x4_splat(1.0f), e), wasm_f32x4_splat(0.5f));
  f4 pdf = wasm_f32x4_mul(wasm_f32x4_mul(x, expm), wasm_f32x4_splat(0.39894228040143268f));
  *d = wasm_f32x4_add(cdf, pdf);
  return wasm_f32x4_mul(wasm_f32x4_mul(x, wasm_f32x4_splat(0.5f)), wasm_f32x4_add(wasm_f32x4_splat(1.0f), e));
}

__attribute__((export_name("gelu_forward_grad"))) void gelu_forward_grad(int n, const float *x, float *y, float *d) {
  int i = 0;
  f4 di;
  for (; i + 4 <= n; i += 4) {
    wasm_v128_store(y + i, gelu_and_grad4(wasm_v128_load(x + i), &di));
    wasm_v128_store(d + i, di);
  }
  for (; i < n; i++) {
    y[i] = wasm_f32x4_extract_lane(gelu_and_grad4(wasm_f32x4_splat(x[i]), &di), 0);
    d[i] = wasm_f32x4_extract_lane(di, 0);
  }
}

__attribute__((export_name("gelu_backward"))) void gelu_backward(int n, const float *x, const float *dy, float *dx) {
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(dx + i, gelu_grad4(wasm_v128_load(x + i), wasm_v128_load(dy + i)));
  for (; i < n; i++) dx[i] = wasm_f32x4_extract_lane(gelu_grad4(wasm_f32x4_splat(x[i]), wasm_f32x4_splat(dy[i])), 0);
}
