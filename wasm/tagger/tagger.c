/*
 * The downbeat tagger's network (src/music/beats/tagger.ts taggerOutputs) as a WebAssembly SIMD kernel, with the
 * same arithmetic to the last bit: every product of two float32 values is taken in double (exact), the dot products
 * are summed in double in the TypeScript's order (four partial sums over k = 0, 1, 2, 3 mod 4, the tail into the
 * first, then ((a0 + a1) + a2) + a3), and activations are rounded to float32 where the TypeScript stores them in a
 * Float32Array. So the kernel and the TypeScript give identical log-odds (test/music/beats_tagger_wasm.test.ts).
 *
 * Layout (all row-major, float32 unless said): x (n, F) features; inT (C, F) the input weights transposed; h and o
 * (n, C) activations; a block's wT (C, 3C): for output j, the taps at t - d, t, t + d; outT (K, C); out (n, K)
 * float64. No imports, no allocation: the caller owns the memory.
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(name)))

/* a[0..len) . w[0..len) in double, in the TypeScript's order (see the header). */
static double dot(const float *a, const float *w, int len) {
  v128_t v01 = wasm_f64x2_splat(0.0); /* the partial sums a0, a1 */
  v128_t v23 = wasm_f64x2_splat(0.0); /* a2, a3 */
  int k = 0;
  for (; k + 3 < len; k += 4) {
    v128_t x = wasm_v128_load(a + k);
    v128_t y = wasm_v128_load(w + k);
    v01 = wasm_f64x2_add(v01, wasm_f64x2_mul(wasm_f64x2_promote_low_f32x4(x), wasm_f64x2_promote_low_f32x4(y)));
    v128_t xh = wasm_i32x4_shuffle(x, x, 2, 3, 0, 1);
    v128_t yh = wasm_i32x4_shuffle(y, y, 2, 3, 0, 1);
    v23 = wasm_f64x2_add(v23, wasm_f64x2_mul(wasm_f64x2_promote_low_f32x4(xh), wasm_f64x2_promote_low_f32x4(yh)));
  }
  double a0 = wasm_f64x2_extract_lane(v01, 0);
  double a1 = wasm_f64x2_extract_lane(v01, 1);
  double a2 = wasm_f64x2_extract_lane(v23, 0);
  double a3 = wasm_f64x2_extract_lane(v23, 1);
  for (; k < len; k++) a0 += (double)a[k] * (double)w[k];
  return a0 + a1 + a2 + a3;
}

/* h[t][j] = inB[j] + x[t] . inT[j] */
EXPORT("tagger_input")
void tagger_input(int n, int F, int C, const float *x, const float *inT, const float *inB, float *h) {
  for (int t = 0; t < n; t++)
    for (int j = 0; j < C; j++) h[t * C + j] = (float)((double)inB[j] + dot(x + t * F, inT + j * F, F));
}

/* o[t][j] = h[t][j] + max(0, b[j] + sum over the taps in range of h[t + (tap - 1) d] . wT[j][tap]) */
EXPORT("tagger_block")
void tagger_block(int n, int C, int d, const float *h, const float *wT, const float *b, float *o) {
  for (int t = 0; t < n; t++) {
    for (int j = 0; j < C; j++) {
      double s = (double)b[j];
      for (int tap = 0; tap < 3; tap++) {
        int src = t + (tap - 1) * d;
        if (src >= 0 && src < n) s += dot(h + src * C, wT + j * 3 * C + tap * C, C);
      }
      o[t * C + j] = (float)((double)h[t * C + j] + (s > 0.0 ? s : 0.0));
    }
  }
}

/* out[t][q] = outB[q] + h[t] . outT[q], in double */
EXPORT("tagger_output")
void tagger_output(int n, int C, int K, const float *h, const float *outT, const float *outB, double *out) {
  for (int t = 0; t < n; t++)
    for (int q = 0; q < K; q++) out[t * K + q] = (double)outB[q] + dot(h + t * C, outT + q * C, C);
}
