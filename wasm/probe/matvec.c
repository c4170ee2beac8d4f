/*
 * A probe, not shipped: forms of the batch-1 matrix-vector product of wasm/step/step.c, timed by
 * scripts/matvec_probe.ts on weights that fit L1/L2 or only L3, to tell whether the product is bound by memory or
 * by its instructions under V8. W is packed [out / width][in][width] (width 16 for the shipped layout).
 */
#include <wasm_simd128.h>

typedef v128_t f4;
#define NOINLINE __attribute__((noinline))
#define MA(a, s, p) a = wasm_f32x4_add(a, wasm_f32x4_mul(s, wasm_v128_load(p)))

/* step.c's block1 before session 17: one input per iteration, four sums (16 outputs) in flight */
__attribute__((export_name("one_input"))) NOINLINE void one_input(const float *x, int in, const float *W, const float *b, int out, float *y) {
  for (int blk = 0; blk < out / 16; blk++) {
    const float *w = W + blk * in * 16, *bb = b + blk * 16;
    f4 a0 = wasm_v128_load(bb), a1 = wasm_v128_load(bb + 4), a2 = wasm_v128_load(bb + 8), a3 = wasm_v128_load(bb + 12);
    for (int k = 0; k < in; k++, w += 16) {
      f4 s = wasm_f32x4_splat(x[k]);
      MA(a0, s, w); MA(a1, s, w + 4); MA(a2, s, w + 8); MA(a3, s, w + 12);
    }
    float *o = y + blk * 16;
    wasm_v128_store(o, a0); wasm_v128_store(o + 4, a1); wasm_v128_store(o + 8, a2); wasm_v128_store(o + 12, a3);
  }
}

/* step.c's block1 since session 17: two inputs per iteration, the same sums in the same order (in even) */
__attribute__((export_name("two_inputs"))) NOINLINE void two_inputs(const float *x, int in, const float *W, const float *b, int out, float *y) {
  for (int blk = 0; blk < out / 16; blk++) {
    const float *w = W + blk * in * 16, *bb = b + blk * 16;
    f4 a0 = wasm_v128_load(bb), a1 = wasm_v128_load(bb + 4), a2 = wasm_v128_load(bb + 8), a3 = wasm_v128_load(bb + 12);
    for (int k = 0; k < in; k += 2, w += 32) {
      f4 s = wasm_v128_load32_splat(x + k), t = wasm_v128_load32_splat(x + k + 1);
      MA(a0, s, w); MA(a1, s, w + 4); MA(a2, s, w + 8); MA(a3, s, w + 12);
      MA(a0, t, w + 16); MA(a1, t, w + 20); MA(a2, t, w + 24); MA(a3, t, w + 28);
    }
    float *o = y + blk * 16;
    wasm_v128_store(o, a0); wasm_v128_store(o + 4, a1); wasm_v128_store(o + 8, a2); wasm_v128_store(o + 12, a3);
  }
}

/* two blocks of 16 in one loop: eight sums in flight (out a multiple of 32) */
__attribute__((export_name("two_blocks"))) NOINLINE void two_blocks(const float *x, int in, const float *W, const float *b, int out, float *y) {
  for (int blk = 0; blk < out / 16; blk += 2) {
    const float *w = W + blk * in * 16, *v = w + in * 16, *bb = b + blk * 16;
    f4 a0 = wasm_v128_load(bb), a1 = wasm_v128_load(bb + 4), a2 = wasm_v128_load(bb + 8), a3 = wasm_v128_load(bb + 12);
    f4 c0 = wasm_v128_load(bb + 16), c1 = wasm_v128_load(bb + 20), c2 = wasm_v128_load(bb + 24), c3 = wasm_v128_load(bb + 28);
    for (int k = 0; k < in; k++, w += 16, v += 16) {
      f4 s = wasm_v128_load32_splat(x + k);
      MA(a0, s, w); MA(a1, s, w + 4); MA(a2, s, w + 8); MA(a3, s, w + 12);
      MA(c0, s, v); MA(c1, s, v + 4); MA(c2, s, v + 8); MA(c3, s, v + 12);
    }
    float *o = y + blk * 16;
    wasm_v128_store(o, a0); wasm_v128_store(o + 4, a1); wasm_v128_store(o + 8, a2); wasm_v128_store(o + 12, a3);
    wasm_v128_store(o + 16, c0); wasm_v128_store(o + 20, c1); wasm_v128_store(o + 24, c2); wasm_v128_store(o + 28, c3);
  }
}

/* a block of 24 outputs (packed [out / 24][in][24]): six sums in flight (out a multiple of 24) */
__attribute__((export_name("width24"))) NOINLINE void width24(const float *x, int in, const float *W, const float *b, int out, float *y) {
  for (int blk = 0; blk < out / 24; blk++) {
    const float *w = W + blk * in * 24, *bb = b + blk * 24;
    f4 a0 = wasm_v128_load(bb), a1 = wasm_v128_load(bb + 4), a2 = wasm_v128_load(bb + 8);
    f4 a3 = wasm_v128_load(bb + 12), a4 = wasm_v128_load(bb + 16), a5 = wasm_v128_load(bb + 20);
    for (int k = 0; k < in; k++, w += 24) {
      f4 s = wasm_v128_load32_splat(x + k);
      MA(a0, s, w); MA(a1, s, w + 4); MA(a2, s, w + 8); MA(a3, s, w + 12); MA(a4, s, w + 16); MA(a5, s, w + 20);
    }
    float *o = y + blk * 24;
    wasm_v128_store(o, a0); wasm_v128_store(o + 4, a1); wasm_v128_store(o + 8, a2);
    wasm_v128_store(o + 12, a3); wasm_v128_store(o + 16, a4); wasm_v128_store(o + 20, a5);
  }
}

/* reading alone: every weight loaded once, OR-ed into four registers (n a multiple of 16) */
__attribute__((export_name("read_only"))) NOINLINE float read_only(const float *W, int n) {
  f4 a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
  for (int i = 0; i < n; i += 16) {
    a0 = wasm_v128_or(a0, wasm_v128_load(W + i));
    a1 = wasm_v128_or(a1, wasm_v128_load(W + i + 4));
    a2 = wasm_v128_or(a2, wasm_v128_load(W + i + 8));
    a3 = wasm_v128_or(a3, wasm_v128_load(W + i + 12));
  }
  return wasm_f32x4_extract_lane(wasm_v128_or(wasm_v128_or(a0, a1), wasm_v128_or(a2, a3)), 0);
}
