/*
 * Sums over the leading axes for wasm32 with 128-bit SIMD: x viewed as [R][C] (row-major f32), out[c] =
 * sum over r of x[r][c], rows added in order. This is tf.sum over axes 0..k-1 (a bias's gradient, the
 * gradient of a broadcast add), which tfjs-backend-wasm 4.22 runs as a transpose and then a scalar loop.
 *
 * No data segment, no stack, imports only the memory: it runs inside tfjs-backend-wasm's heap on the
 * tensors where they lie and writes only `out`.
 */
#include <wasm_simd128.h>

__attribute__((export_name("colsum"))) void colsum(int R, int C, const float *x, float *out) {
  int c4 = C & ~3;
  for (int c = 0; c < C; c++) out[c] = 0.0f;
  /* Blocks of 16 columns keep four accumulators in registers down all the rows. */
  int c16 = C & ~15;
  for (int c = 0; c < c16; c += 16) {
    v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
    const float *p = x + c;
    for (int r = 0; r < R; r++, p += C) {
      a0 = wasm_f32x4_add(a0, wasm_v128_load(p));
      a1 = wasm_f32x4_add(a1, wasm_v128_load(p + 4));
      a2 = wasm_f32x4_add(a2, wasm_v128_load(p + 8));
      a3 = wasm_f32x4_add(a3, wasm_v128_load(p + 12));
    }
    wasm_v128_store(out + c, a0);
    wasm_v128_store(out + c + 4, a1);
    wasm_v128_store(out + c + 8, a2);
    wasm_v128_store(out + c + 12, a3);
  }
  for (int c = c16; c < c4; c += 4) {
    v128_t a = wasm_f32x4_splat(0.0f);
    const float *p = x + c;
    for (int r = 0; r < R; r++, p += C) a = wasm_f32x4_add(a, wasm_v128_load(p));
    wasm_v128_store(out + c, a);
  }
  for (int c = c4; c < C; c++) {
    float a = 0.0f;
    const float *p = x + c;
    for (int r = 0; r < R; r++, p += C) a += *p;
    out[c] = a;
  }
}
