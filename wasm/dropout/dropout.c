/*
 * Dropout with its mask drawn inside the kernel, for wasm32: y[i] = x[i] * m[i], where m[i] is `scale` when
 * fround(u_i + keep) >= 1 (tf.dropout's test) and 0 otherwise, u_i = fround(X_i / 2^32), and X_i is the i-th output of seedrandom's
 * Alea generator (what tf.randomUniform and core/ops.ts's seededStream draw), given its state after seeding.
 *
 * Alea in doubles is  t = 2091639 s + c 2^-32,  c = trunc(t),  s' = t - c  on a lag-3 state s0, s1, s2 that are
 * multiples of 2^-32 in [0, 1); every value is exact in a double (2091639 < 2^21, 32 fraction bits), so it is the
 * lag-3 multiply-with-carry generator  T = 2091639 X + c,  X' = T mod 2^32,  c = T >> 32  in 64-bit integers,
 * giving the same bits. In integers the carry's serial chain is one add and one shift per value instead of a
 * multiply-add, a rounding and a subtraction (the JavaScript loop was latency-bound at ~8 ns a value).
 *
 * The gradient of dropout is the same kernel on dy with the same state (dx = dy * m, as tf.mul's gradient).
 *
 * No data segment, no stack, imports only the memory: it runs inside tfjs-backend-wasm's heap on the tensors
 * where they lie and writes only its output.
 */
typedef unsigned int u32;
typedef unsigned long long u64;

/* scale where X >= thr, else 0, without a branch: thr is the smallest X whose fround(fround(X / 2^32) + keep) is
 * >= 1 (that test is monotone in X, so it holds exactly from thr on; src/kernels/dropout.ts finds thr). */
static inline float mask(u32 X, u32 thr, u32 scaleBits) {
  union { u32 u; float f; } m;
  m.u = scaleBits & (0u - (u32)(X >= thr));
  return m.f;
}

__attribute__((export_name("dropout_apply"))) void dropout_apply(int n, const float *x, float *y, u32 s0, u32 s1, u32 s2,
                                                                  u32 thr, float scale) {
  union { float f; u32 u; } sc;
  sc.f = scale;
  const u32 sb = sc.u;
  const u64 a = 2091639ull;
  u64 c = 1, t;
  u32 x0 = s0, x1 = s1, x2 = s2;
  int i = 0;
  for (; i + 3 <= n; i += 3) {
    t = a * x0 + c;
    x0 = (u32)t;
    c = t >> 32;
    t = a * x1 + c;
    x1 = (u32)t;
    c = t >> 32;
    t = a * x2 + c;
    x2 = (u32)t;
    c = t >> 32;
    y[i] = x[i] * mask(x0, thr, sb);
    y[i + 1] = x[i + 1] * mask(x1, thr, sb);
    y[i + 2] = x[i + 2] * mask(x2, thr, sb);
  }
  if (i < n) {
    t = a * x0 + c;
    x0 = (u32)t;
    c = t >> 32;
    y[i] = x[i] * mask(x0, thr, sb);
  }
  if (i + 1 < n) {
    t = a * x1 + c;
    x1 = (u32)t;
    y[i + 1] = x[i + 1] * mask(x1, thr, sb);
  }
}
