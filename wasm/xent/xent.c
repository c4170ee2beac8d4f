/*
 * Softmax cross-entropy of R rows of C logits against integer targets, and its gradient, for wasm32 with
 * 128-bit SIMD (the loss of every family head in training: core/train/loss.ts's maskedCrossEntropySum):
 *   forward:  m = max_c x, s = Σ_c exp(x_c - m), a = x_t - m    (the caller takes nll = log(s) - a)
 *   backward: dx_c = w (exp(x_c - m) / s - [c = t])              (w = the row's weight: mask times dy)
 * A target outside 0..C-1 (tf.oneHot gives a zero row) gives s = 1, a = 0 (nll 0) and a zero gradient row.
 * exp is wasm/common/vexp.h's polynomial (relative error about 2e-7).
 *
 * No data segment, no stack, imports only the memory: it runs inside tfjs-backend-wasm's heap on the tensors
 * where they lie and writes only its outputs.
 */
#include <wasm_simd128.h>

typedef v128_t f4;

#include "../common/vexp.h"

static inline float hsum(f4 v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) + (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

static inline float row_max(int C, const float *x) {
  int j = 0;
  float m = x[0];
  if (C >= 4) {
    f4 v = wasm_v128_load(x);
    for (j = 4; j + 4 <= C; j += 4) v = wasm_f32x4_pmax(v, wasm_v128_load(x + j));
    float a = wasm_f32x4_extract_lane(v, 0), b = wasm_f32x4_extract_lane(v, 1);
    float c = wasm_f32x4_extract_lane(v, 2), d = wasm_f32x4_extract_lane(v, 3);
    m = a > b ? a : b;
    m = m > c ? m : c;
    m = m > d ? m : d;
  }
  for (; j < C; j++) m = x[j] > m ? x[j] : m;
  return m;
}

/* Σ exp(x - m) over the row; with e != 0 also writes exp(x - m) there. */
static inline float row_sumexp(int C, const float *x, float m, float *e) {
  f4 vm = wasm_f32x4_splat(m);
  f4 s = wasm_f32x4_splat(0.0f);
  int j = 0;
  for (; j + 4 <= C; j += 4) {
    f4 v = vexp(wasm_f32x4_sub(wasm_v128_load(x + j), vm));
    if (e) wasm_v128_store(e + j, v);
    s = wasm_f32x4_add(s, v);
  }
  float sum = hsum(s);
  for (; j < C; j++) {
    float v = wasm_f32x4_extract_lane(vexp(wasm_f32x4_splat(x[j] - m)), 0);
    if (e) e[j] = v;
    sum += v;
  }
  return sum;
}

__attribute__((export_name("xent_forward")))
void xent_forward(int R, int C, const float *x, const int *t, float *s, float *a) {
  for (int r = 0; r < R; r++) {
    const float *xr = x + (long)r * C;
    int tr = t[r];
    if (tr < 0 || tr >= C || C == 0) {
      s[r] = 1.0f;
      a[r] = 0.0f;
      continue;
    }
    float m = row_max(C, xr);
    s[r] = row_sumexp(C, xr, m, 0);
    a[r] = xr[tr] - m;
  }
}

__attribute__((export_name("xent_backward")))
void xent_backward(int R, int C, const float *x, const int *t, const float *w, float *dx) {
  for (int r = 0; r < R; r++) {
    const float *xr = x + (long)r * C;
    float *dr = dx + (long)r * C;
    int tr = t[r];
    if (tr < 0 || tr >= C) {
      for (int j = 0; j < C; j++) dr[j] = 0.0f;
      continue;
    }
    float m = row_max(C, xr);
    float sum = row_sumexp(C, xr, m, dr);
    f4 k = wasm_f32x4_splat(w[r] / sum);
    int j = 0;
    for (; j + 4 <= C; j += 4) wasm_v128_store(dr + j, wasm_f32x4_mul(wasm_v128_load(dr + j), k));
    float kk = w[r] / sum;
    for (; j < C; j++) dr[j] = dr[j] * kk;
    dr[tr] -= w[r];
  }
}
