/*
 * Causal linear attention (EMOPIA's, fast-transformers' causal_linear_attention.py) for wasm32 with 128-bit
 * SIMD, forward and backward, in the recurrent form: one call per layer and pass instead of hundreds of small
 * matrix products.
 *
 * Per sequence g (G = batch x heads of them, each T rows), with feature-mapped queries q and keys k [T][dh],
 * values v [T][dv] and V1 = [v | 1] (the ones column gives the normaliser):
 *   S_i   = sum_{j <= i} k_j v1_j^T          (dh x (dv+1), the running state)
 *   tot_i = S_i^T q_i                        ((dv+1): numerator | denominator)
 *   out_i = tot_i[:dv] / (tot_i[dv] + eps),  den_i = tot_i[dv]
 * Backward, with g_i = [dout_i / (den_i + eps) | -sum(dout_i * out_i) / (den_i + eps)] (the gradient of tot_i)
 * and R_i = sum_{j >= i} q_j g_j^T:
 *   dq_i = S_i g_i,   dk_i = R_i v1_i,   dv1_i = R_i^T k_i   (the last column of dv1 is dropped).
 * The forward pass of the backward call rebuilds S row by row; a second pass from the last row builds R.
 *
 * Layout: every tensor is row-major f32, sequences one after another ([G][T][dh] etc.), or with H > 0 the
 * projections' [B][T][H][dh] (row_of); den is [G][T].
 * The state is held padded to multiples of 4 (dhp, dvp) with zeros in the padding, and each row is copied
 * into zero-padded work rows, so any dh and dv work. No data segment, no stack, imports only the memory: it
 * runs inside tfjs-backend-wasm's heap on the tensors where they lie and writes only its outputs and `work`.
 */
#include <wasm_simd128.h>

static int pad4(int n) { return (n + 3) & ~3; }

/*
 * The row of q, k, v, out and their gradients holding position i of sequence g: g T + i in the [G][T][d] layout
 * (H = 0), or (b T + i) H + h for g = b H + h in the [B][T][H][d] layout (H heads side by side in each position's
 * row, as the projections give them: no transposes around the call). den is always [G][T].
 */
static long row_of(int g, int i, int T, int H) {
  return H ? ((long)(g / H) * T + i) * H + g % H : (long)g * T + i;
}

/* Floats of work space a call needs for head sizes dh (queries/keys) and dv (values). */
__attribute__((export_name("work_floats"))) int work_floats(int dh, int dv) {
  int dhp = pad4(dh), dvp = pad4(dv + 1);
  return dhp * dvp + 3 * dhp + 2 * dvp + 4 * dvp;
}

static void zero(float *p, int n) {
  for (int i = 0; i < n; i += 4) wasm_v128_store(p + i, wasm_f32x4_splat(0.0f));
}

/* Copies n floats to a zero-padded row of np floats (np a multiple of 4). */
static void row(float *dst, const float *src, int n, int np) {
  zero(dst + (n & ~3), np - (n & ~3));
  for (int i = 0; i < n; i++) dst[i] = src[i];
}

/* v1 = [v | 1 | 0...] */
static void row_ones(float *dst, const float *src, int dv, int dvp) {
  row(dst, src, dv, dvp);
  dst[dv] = 1.0f;
}

static float hsum(v128_t x) {
  return (wasm_f32x4_extract_lane(x, 0) + wasm_f32x4_extract_lane(x, 1)) +
         (wasm_f32x4_extract_lane(x, 2) + wasm_f32x4_extract_lane(x, 3));
}

/*
 * One step of a running state M [n][w] (w a multiple of 4): every row i gets M[i] += a[i] * b, and
 * out = sum over i of c[i] * M[i] (the updated rows), in that order of float operations. Column blocks of 16 first
 * (each a[i] and c[i] broadcast once for 16 columns), then the rest by 4. The forward pass calls it with
 * (S, k, q, v1) and the backward's first pass with (S^T, v1, g, k).
 */
static void rank1_update_dot(float *M, int n, int w, const float *a, const float *c, const float *b, float *out) {
  int cb = 0;
  for (; cb + 16 <= w; cb += 16) {
    v128_t b0 = wasm_v128_load(b + cb), b1 = wasm_v128_load(b + cb + 4), b2 = wasm_v128_load(b + cb + 8),
           b3 = wasm_v128_load(b + cb + 12);
    v128_t acc0 = wasm_f32x4_splat(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    float *mp = M + cb;
    for (int i = 0; i < n; i++, mp += w) {
      v128_t ai = wasm_v128_load32_splat(a + i), ci = wasm_v128_load32_splat(c + i);
      v128_t s0 = wasm_f32x4_add(wasm_v128_load(mp), wasm_f32x4_mul(ai, b0));
      v128_t s1 = wasm_f32x4_add(wasm_v128_load(mp + 4), wasm_f32x4_mul(ai, b1));
      v128_t s2 = wasm_f32x4_add(wasm_v128_load(mp + 8), wasm_f32x4_mul(ai, b2));
      v128_t s3 = wasm_f32x4_add(wasm_v128_load(mp + 12), wasm_f32x4_mul(ai, b3));
      wasm_v128_store(mp, s0);
      wasm_v128_store(mp + 4, s1);
      wasm_v128_store(mp + 8, s2);
      wasm_v128_store(mp + 12, s3);
      acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(ci, s0));
      acc1 = wasm_f32x4_add(acc1, wasm_f32x4_mul(ci, s1));
      acc2 = wasm_f32x4_add(acc2, wasm_f32x4_mul(ci, s2));
      acc3 = wasm_f32x4_add(acc3, wasm_f32x4_mul(ci, s3));
    }
    wasm_v128_store(out + cb, acc0);
    wasm_v128_store(out + cb + 4, acc1);
    wasm_v128_store(out + cb + 8, acc2);
    wasm_v128_store(out + cb + 12, acc3);
  }
  for (; cb < w; cb += 4) {
    v128_t bb = wasm_v128_load(b + cb);
    v128_t acc = wasm_f32x4_splat(0.0f);
    float *mp = M + cb;
    for (int i = 0; i < n; i++, mp += w) {
      v128_t s = wasm_f32x4_add(wasm_v128_load(mp), wasm_f32x4_mul(wasm_v128_load32_splat(a + i), bb));
      wasm_v128_store(mp, s);
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load32_splat(c + i), s));
    }
    wasm_v128_store(out + cb, acc);
  }
}


/*
 * Forward: out [G][T][dv] and den [G][T] from q, k [G][T][dh] and v [G][T][dv].
 */
__attribute__((export_name("forward"))) void forward(int G, int T, int H, int dh, int dv, float eps, const float *q,
                                                      const float *k, const float *v, float *out, float *den,
                                                      float *work) {
  int dhp = pad4(dh), dvp = pad4(dv + 1);
  float *S = work;          /* [dhp][dvp] */
  float *qp = S + dhp * dvp; /* [dhp] */
  float *kp = qp + dhp;     /* [dhp] */
  float *v1 = kp + dhp;     /* [dvp] */
  float *tot = v1 + dvp;    /* [dvp] */
  for (int g = 0; g < G; g++) {
    zero(S, dhp * dvp);
    for (int i = 0; i < T; i++) {
      long r = (long)g * T + i, ro = row_of(g, i, T, H);
      row(qp, q + ro * dh, dh, dhp);
      row(kp, k + ro * dh, dh, dhp);
      row_ones(v1, v + ro * dv, dv, dvp);
      rank1_update_dot(S, dhp, dvp, kp, qp, v1, tot);
      float dn = tot[dv];
      den[r] = dn;
      float *o = out + ro * dv;
      for (int c = 0; c < dv; c++) o[c] = tot[c] / (dn + eps);
    }
  }
}

/* g = [dout / (den + eps) | -sum(dout * out) / (den + eps) | 0...] for row r. */
static void grad_row(float *gp, const float *dout, const float *out, const float *den, long r, long ro, int dv, int dvp,
                     float eps) {
  float inv = 1.0f / (den[r] + eps);
  const float *dy = dout + ro * dv;
  const float *o = out + ro * dv;
  float dot = 0.0f;
  zero(gp + (dv & ~3), dvp - (dv & ~3));
  for (int c = 0; c < dv; c++) {
    gp[c] = dy[c] * inv;
    dot += dy[c] * o[c];
  }
  gp[dv] = -(dot * inv);
}

/*
 * Backward: dq, dk [G][T][dh] and dv [G][T][dv] from the forward's inputs, its outputs out and den, and
 * dout = d loss / d out [G][T][dv].
 */
__attribute__((export_name("backward"))) void backward(int G, int T, int H, int dh, int dv, float eps, const float *q,
                                                        const float *k, const float *v, const float *out,
                                                        const float *den, const float *dout, float *dq, float *dk,
                                                        float *dvout, float *work) {
  int dhp = pad4(dh), dvp = pad4(dv + 1);
  float *St = work;          /* [dvp][dhp]: S transposed (pass 1), then R transposed (pass 2) */
  float *qp = St + dhp * dvp; /* [dhp] */
  float *kp = qp + dhp;      /* [dhp] */
  float *res = kp + dhp;     /* [dhp]: dq or dk of the row */
  float *v1 = res + dhp;     /* [dvp] */
  float *gp = v1 + dvp;      /* [dvp] */
  float *dvt = gp + dvp;     /* [dvp][4]: partial sums of dv1 */
  for (int g = 0; g < G; g++) {
    /* Pass 1, first row to last: S_i, dq_i = S_i g_i. */
    zero(St, dhp * dvp);
    for (int i = 0; i < T; i++) {
      long r = (long)g * T + i, ro = row_of(g, i, T, H);
      row(kp, k + ro * dh, dh, dhp);
      row_ones(v1, v + ro * dv, dv, dvp);
      grad_row(gp, dout, out, den, r, ro, dv, dvp, eps);
      rank1_update_dot(St, dvp, dhp, v1, gp, kp, res);
      float *o = dq + ro * dh;
      for (int d = 0; d < dh; d++) o[d] = res[d];
    }
    /* Pass 2, last row to first: R_i, dk_i = R_i v1_i, dv1_i = R_i^T k_i. */
    zero(St, dhp * dvp);
    for (int i = T - 1; i >= 0; i--) {
      long r = (long)g * T + i, ro = row_of(g, i, T, H);
      row(qp, q + ro * dh, dh, dhp);
      row(kp, k + ro * dh, dh, dhp);
      row_ones(v1, v + ro * dv, dv, dvp);
      grad_row(gp, dout, out, den, r, ro, dv, dvp, eps);
      zero(dvt, 4 * dvp);
      /*
       * Row blocks of R^T in pairs (each g_c and v1_c broadcast once for 8 rows; dvt's partial sums still get the
       * blocks in increasing order, so the same bits), then the rest one by one.
       */
      int db = 0;
      for (; db + 8 <= dhp; db += 8) {
        v128_t qq0 = wasm_v128_load(qp + db), qq1 = wasm_v128_load(qp + db + 4);
        v128_t kk0 = wasm_v128_load(kp + db), kk1 = wasm_v128_load(kp + db + 4);
        v128_t acc0 = wasm_f32x4_splat(0.0f), acc1 = acc0;
        float *rp = St + db;
        float *tp = dvt;
        for (int c = 0; c < dvp; c++, rp += dhp, tp += 4) {
          v128_t gc = wasm_v128_load32_splat(gp + c), vc = wasm_v128_load32_splat(v1 + c);
          v128_t x0 = wasm_f32x4_add(wasm_v128_load(rp), wasm_f32x4_mul(gc, qq0));
          v128_t x1 = wasm_f32x4_add(wasm_v128_load(rp + 4), wasm_f32x4_mul(gc, qq1));
          wasm_v128_store(rp, x0);
          wasm_v128_store(rp + 4, x1);
          acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(vc, x0));
          acc1 = wasm_f32x4_add(acc1, wasm_f32x4_mul(vc, x1));
          v128_t t = wasm_f32x4_add(wasm_v128_load(tp), wasm_f32x4_mul(x0, kk0));
          wasm_v128_store(tp, wasm_f32x4_add(t, wasm_f32x4_mul(x1, kk1)));
        }
        wasm_v128_store(res + db, acc0);
        wasm_v128_store(res + db + 4, acc1);
      }
      for (; db < dhp; db += 4) {
        v128_t qq = wasm_v128_load(qp + db);
        v128_t kk = wasm_v128_load(kp + db);
        v128_t acc = wasm_f32x4_splat(0.0f);
        float *rp = St + db;
        float *tp = dvt;
        for (int c = 0; c < dvp; c++, rp += dhp, tp += 4) {
          v128_t x = wasm_f32x4_add(wasm_v128_load(rp), wasm_f32x4_mul(wasm_v128_load32_splat(gp + c), qq));
          wasm_v128_store(rp, x);
          acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load32_splat(v1 + c), x));
          wasm_v128_store(tp, wasm_f32x4_add(wasm_v128_load(tp), wasm_f32x4_mul(x, kk)));
        }
        wasm_v128_store(res + db, acc);
      }
      float *ok = dk + ro * dh;
      for (int d = 0; d < dh; d++) ok[d] = res[d];
      float *ov = dvout + ro * dv;
      for (int c = 0; c < dv; c++) ov[c] = hsum(wasm_v128_load(dvt + 4 * c));
    }
  }
}
