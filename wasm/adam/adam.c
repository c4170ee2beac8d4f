// Clipping and Adam over a range of flat float32 arrays, for the sharded update of data-parallel training
// (src/platform/train_worker.ts via src/kernels/adam.ts): g·coef, then torch.optim.Adam's arithmetic as
// src/core/train/optim.ts's Adam.apply does it in tfjs, one float32 operation at a time in the same order
// (built with -ffp-contract=off: no fused multiply-add), so the result is bit-identical to it. The arrays live in
// a shared memory that every worker imports (the pool's buffers).
#include <wasm_simd128.h>

__attribute__((export_name("adam"))) void adam(float *p, const float *g, float *m, float *v, int n, float coef, float b1, float ob1, float b2, float ob2, float bc2, float eps, float ss) {
  const v128_t k = wasm_f32x4_splat(coef), vb1 = wasm_f32x4_splat(b1), vob1 = wasm_f32x4_splat(ob1), vb2 = wasm_f32x4_splat(b2),
               vob2 = wasm_f32x4_splat(ob2), vbc2 = wasm_f32x4_splat(bc2), veps = wasm_f32x4_splat(eps), vss = wasm_f32x4_splat(ss);
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    v128_t gj = wasm_f32x4_mul(wasm_v128_load(g + j), k);
    v128_t m1 = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(m + j), vb1), wasm_f32x4_mul(gj, vob1));
    v128_t v1 = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(v + j), vb2), wasm_f32x4_mul(wasm_f32x4_mul(gj, gj), vob2));
    v128_t denom = wasm_f32x4_add(wasm_f32x4_div(wasm_f32x4_sqrt(v1), vbc2), veps);
    wasm_v128_store(m + j, m1);
    wasm_v128_store(v + j, v1);
    wasm_v128_store(p + j, wasm_f32x4_sub(wasm_v128_load(p + j), wasm_f32x4_mul(wasm_f32x4_div(m1, denom), vss)));
  }
  for (; j < n; j++) {
    float gj = g[j] * coef;
    float m1 = m[j] * b1 + gj * ob1;
    float v1 = v[j] * b2 + (gj * gj) * ob2;
    float denom = __builtin_sqrtf(v1) / bc2 + eps;
    m[j] = m1;
    v[j] = v1;
    p[j] = p[j] - (m1 / denom) * ss;
  }
}
