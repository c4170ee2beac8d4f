/*
 * One step of EMOPIA's compound-word Transformer for a batch of B sequences, in WebAssembly SIMD (f32x4):
 * the `wasm` engine of src/cp/engine.ts (the TypeScript side is src/cp/wasm/wasm_engine.ts).
 *
 *   cp_feed(model, pos): emb [B, E] (the eight scaled embedding rows, concatenated) -> in_linear (or, `pre`, the
 *     bias plus each family's row of the in_linear tables at `rows`) -> + positional row -> nLayers post-norm
 *     layers (linear attention with its state S, z; or softmax attention with a key/value cache) -> final
 *     LayerNorm = h -> type logits [B, n_type]. Copies h into cat [B, d + e_type].
 *   cp_rest(model): cat = [h | type embedding rows] (the caller writes the type rows) -> project_concat_type ->
 *     the seven other heads, fused [B, n_rest].
 *
 * Every buffer and weight lives in this module's memory; the TypeScript side allocates them, copies each weight
 * matrix once into a scratch area for cp_pack_half or cp_pack_f32 to pack (as [out-block of 16][in][16], see
 * pack.ts: half-precision bits when every weight is exactly a half, else f32) and fills the `Model` descriptor
 * below. No libc: exp and erf are written here. Build: wasm/step/build.sh.
 */
#include <wasm_simd128.h>

typedef v128_t f4;

/* a += s * (the four floats at p): one multiply-add of the products' and the attention's inner loops */
#define MA(a, s, p) a = wasm_f32x4_add(a, wasm_f32x4_mul(s, wasm_v128_load(p)))
/* the same for 16 floats at p into four sums */
#define MA4(a, b, c, e, s, p) \
  MA(a, s, p);                 \
  MA(b, s, (p) + 4);           \
  MA(c, s, (p) + 8);           \
  MA(e, s, (p) + 12)

/* One encoder layer: packed weights (W [P(out)/16][in][16], bias [P(out)]), norms, attention state. */
typedef struct {
  const float *qkv_w, *qkv_b; /* (d -> 3d): query, key, value projections fused */
  const float *out_w, *out_b; /* (d -> d) */
  const float *ff1_w, *ff1_b; /* (d -> dff) */
  const float *ff2_w, *ff2_b; /* (dff -> d) */
  const float *n1_g, *n1_b;
  const float *n2_g, *n2_b;
  float n1_eps, n2_eps;
  float *sa; /* linear: S [B][h][dv][dk] (row j holds sum v_j phi(k)); softmax: keys [B][cap/KROWS][d][KROWS] */
  float *sb; /* linear: z [B][h][dk]; softmax: values [B][cap][d] */
  int cap;   /* softmax: rows per sequence of sa and sb */
} Layer;

/* The whole model and its activations. Widths padded to 16 are written P(n). All fields 4 bytes. */
typedef struct {
  int B, d, h, dff, E, e_type, n_type, n_rest, n_layers, softmax;
  const float *in_w, *in_b;       /* (E -> d) */
  const float *norm_g, *norm_b;   /* final LayerNorm */
  float norm_eps;
  const float *type_w, *type_b;   /* (d -> n_type) */
  const float *cat_w, *cat_b;     /* (d + e_type -> d) */
  const float *rest_w, *rest_b;   /* (d -> n_rest) */
  const float *emb;               /* [B][E] input rows */
  const float *pe;                /* [d] positional row of this step */
  float *x;                       /* [B][P(d)] residual stream, then h */
  float *qkv;                     /* [B][P(3d)] */
  float *att;                     /* [B][P(d)] attention heads, then the layer's sums */
  float *ffh;                     /* [B][P(dff)] */
  float *cat;                     /* [B][d + e_type] */
  float *y;                       /* [B][P(d)] project_concat_type's output */
  float *type_logits;             /* [B][P(n_type)] */
  float *rest_logits;             /* [B][P(n_rest)] */
  float *scores;                  /* softmax: [h][cap] */
  Layer *layers;
  int half;                       /* 1: every weight matrix holds f16 bits (see matvec), 0: f32 */
  float *xs;                      /* half: [B][max in] the input rows of a product, scaled by 2^112 */
  int pre;                        /* 1: in_linear's output is summed from `tables` at the rows `rows` (see cp_feed) */
  const float *tables;            /* [sum V_f][P(d)]: per family (FAMILIES order), its rows projected by in_linear */
  const int *rows;                /* [B][8]: each word's row of `tables` per family, in FAMILIES order */
} Model;

static inline int pad16(int n) { return (n + 15) & ~15; }

/*
 * Kept out of line: the step's parts below are functions of their own in the module, not inlined into cp_feed.
 * V8 runs a module's functions first as Liftoff's baseline code and compiles each one with TurboFan once it has run
 * enough (dynamic tiering, per function, in the background). Inlined into cp_feed (13 KB of wasm), the whole step
 * was one function that TurboFan took 100-140 ms to compile on a busy core, and that tiered up only after ~20 words:
 * the first words of a process ran as baseline code, 3-5x slower. As small functions, the hot ones (the products,
 * called ~20 times a word) tier up within the first word and compile in a few ms each; the unused ones (the half
 * products of a float32 model) are never compiled. The arithmetic is the same, to the bit.
 */
#define NOINLINE __attribute__((noinline))

/* ---------- y[r] = x[r] W + b for B rows; W packed [P(out)/16][in][16], b [P(out)], y rows of P(out) ---------- */

/*
 * One output block of 16 for one row. Every output is bias + x[0] w[0] + x[1] w[1] + ... in this order, as in
 * block2, so that a row's result does not depend on the other rows of the batch (a piece generated in a batch
 * equals the piece generated alone, to the bit). Two inputs per iteration, each broadcast by one load32_splat: the
 * same adds in the same order, one loop step per two; 2-4% less time per word than one input per iteration
 * (linear attention, fastest of 8 pieces per position, three alternated pairs). Four per iteration was much slower
 * under V8, as was a second output block's four sums in the same loop (scripts/matvec_probe.ts, which also shows the
 * product running at the same rate whether the weights fit L2 or sit in L3: bound by its instructions and add
 * chains, not by memory).
 */
static inline void block1(const float *x, int in, const float *W, const float *b, int blk, float *y) {
  const float *w = W + (long)blk * in * 16;
  f4 a0 = wasm_v128_load(b + blk * 16), a1 = wasm_v128_load(b + blk * 16 + 4);
  f4 a2 = wasm_v128_load(b + blk * 16 + 8), a3 = wasm_v128_load(b + blk * 16 + 12);
  int k = 0;
  for (; k + 1 < in; k += 2, w += 32) {
    f4 s = wasm_v128_load32_splat(x + k), t = wasm_v128_load32_splat(x + k + 1);
    MA4(a0, a1, a2, a3, s, w);
    MA4(a0, a1, a2, a3, t, w + 16);
  }
  for (; k < in; k++, w += 16) {
    f4 s = wasm_v128_load32_splat(x + k);
    MA4(a0, a1, a2, a3, s, w);
  }
  float *o = y + blk * 16;
  wasm_v128_store(o, a0);
  wasm_v128_store(o + 4, a1);
  wasm_v128_store(o + 8, a2);
  wasm_v128_store(o + 12, a3);
}

/* Two rows at once: each weight vector loaded once for both. */
static inline void block2(const float *x0, const float *x1, int in, const float *W, const float *b, int blk, float *y0, float *y1) {
  const float *w = W + (long)blk * in * 16;
  f4 a0 = wasm_v128_load(b + blk * 16), a1 = wasm_v128_load(b + blk * 16 + 4);
  f4 a2 = wasm_v128_load(b + blk * 16 + 8), a3 = wasm_v128_load(b + blk * 16 + 12);
  f4 c0 = a0, c1 = a1, c2 = a2, c3 = a3;
  for (int k = 0; k < in; k++, w += 16) {
    f4 s = wasm_f32x4_splat(x0[k]), t = wasm_f32x4_splat(x1[k]);
    f4 w0 = wasm_v128_load(w), w1 = wasm_v128_load(w + 4), w2 = wasm_v128_load(w + 8), w3 = wasm_v128_load(w + 12);
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(s, w0));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(s, w1));
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(s, w2));
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(s, w3));
    c0 = wasm_f32x4_add(c0, wasm_f32x4_mul(t, w0));
    c1 = wasm_f32x4_add(c1, wasm_f32x4_mul(t, w1));
    c2 = wasm_f32x4_add(c2, wasm_f32x4_mul(t, w2));
    c3 = wasm_f32x4_add(c3, wasm_f32x4_mul(t, w3));
  }
  float *o = y0 + blk * 16, *p = y1 + blk * 16;
  wasm_v128_store(o, a0);
  wasm_v128_store(o + 4, a1);
  wasm_v128_store(o + 8, a2);
  wasm_v128_store(o + 12, a3);
  wasm_v128_store(p, c0);
  wasm_v128_store(p + 4, c1);
  wasm_v128_store(p + 8, c2);
  wasm_v128_store(p + 12, c3);
}

/* Blocks outer, rows inner: a block's weights (in x 64 bytes) are read from memory once per call and reused from
 * the cache for every pair of rows. */
static NOINLINE void matvec(int B, const float *x, int ldx, int in, const float *W, const float *b, int out, float *y, int ldy) {
  int nblk = pad16(out) / 16;
  for (int blk = 0; blk < nblk; blk++) {
    int r = 0;
    for (; r + 1 < B; r += 2) block2(x + r * ldx, x + (r + 1) * ldx, in, W, b, blk, y + r * ldy, y + (r + 1) * ldy);
    if (r < B) block1(x + r * ldx, in, W, b, blk, y + r * ldy);
  }
}

/*
 * The same products with W stored as IEEE half-precision bits (same packed layout, 16 halves per row of a block),
 * used when every weight of the model is exactly a half (the shipped model is stored as F16): half the bytes to
 * read per word; a large model's step is bound by reading its weights (the `small` one's, 13 MB, by the product's
 * instructions: scripts/matvec_probe.ts).
 *
 * Widening without a table: a half's bits h placed at bits 31 (sign) and 27..13 (exponent, mantissa) of an f32
 * are the f32 w 2^-112 exactly (half normals land on f32 normals, half subnormals on f32 subnormals). Read as four
 * i32 lanes, a row's 8 halves h_lo | h_hi << 16 give: the high halves by (v >> 3) & MASK (arithmetic shift: the
 * sign stays at bit 31), the low ones by ((v << 16) >> 3) & MASK. So a row of a block is stored with outputs
 * 0-3 in the low halves of its first 16 bytes, 4-7 in their high halves, 8-11 and 12-15 likewise in the next 16
 * (pack.ts `packHalfMatrix`).
 *
 * Rather than scaling each weight back by 2^112, the input row is scaled by 2^112 once: (w 2^-112)(x 2^112) is
 * the same real product as w x, so every rounded product and sum equals block1's and block2's to the bit. A row
 * with some |x| >= 2^16 would overflow when scaled: then the weights are scaled instead (`wide`), also exact.
 */
typedef unsigned short half;

#define HALF_MASK 0x8FFFE000
#define TWO_112 5.192296858534828e33f /* 2^112 */

/* The 16 weights of one row of a block (32 bytes at w): w 2^-112, or w itself when `wide`. */
#define HALF_ROW(w, wide)                                                                                  \
  v128_t l0 = wasm_v128_load(w), l1 = wasm_v128_load((w) + 8);                                             \
  f4 w0 = wasm_v128_and(wasm_i32x4_shr(wasm_i32x4_shl(l0, 16), 3), M), w1 = wasm_v128_and(wasm_i32x4_shr(l0, 3), M); \
  f4 w2 = wasm_v128_and(wasm_i32x4_shr(wasm_i32x4_shl(l1, 16), 3), M), w3 = wasm_v128_and(wasm_i32x4_shr(l1, 3), M); \
  if (wide) {                                                                                              \
    f4 sc = wasm_f32x4_splat(TWO_112);                                                                     \
    w0 = wasm_f32x4_mul(w0, sc);                                                                           \
    w1 = wasm_f32x4_mul(w1, sc);                                                                           \
    w2 = wasm_f32x4_mul(w2, sc);                                                                           \
    w3 = wasm_f32x4_mul(w3, sc);                                                                           \
  }

/* a += s w for one row of a block (s: the input value in every lane). */
#define ACC1(w, wide, s)                               \
  {                                                    \
    HALF_ROW(w, wide)                                  \
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(s, w0));    \
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(s, w1));    \
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(s, w2));    \
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(s, w3));    \
  }

/* The same for two rows of the batch (t: the second row's input value). */
#define ACC2(w, wide, s, t)                            \
  {                                                    \
    HALF_ROW(w, wide)                                  \
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(s, w0));    \
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(s, w1));    \
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(s, w2));    \
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(s, w3));    \
    c0 = wasm_f32x4_add(c0, wasm_f32x4_mul(t, w0));    \
    c1 = wasm_f32x4_add(c1, wasm_f32x4_mul(t, w1));    \
    c2 = wasm_f32x4_add(c2, wasm_f32x4_mul(t, w2));    \
    c3 = wasm_f32x4_add(c3, wasm_f32x4_mul(t, w3));    \
  }

#define LANE(v, i) wasm_i32x4_shuffle(v, v, i, i, i, i)

/* Four input values per iteration: one load of x, each value spread over the lanes by a shuffle. */
static inline void block1h(const float *x, int in, const half *W, const float *b, int blk, float *y, int wide) {
  const half *w = W + (long)blk * in * 16;
  v128_t M = wasm_i32x4_splat(HALF_MASK);
  f4 a0 = wasm_v128_load(b + blk * 16), a1 = wasm_v128_load(b + blk * 16 + 4);
  f4 a2 = wasm_v128_load(b + blk * 16 + 8), a3 = wasm_v128_load(b + blk * 16 + 12);
  int k = 0;
  for (; k + 3 < in; k += 4, w += 64) {
    f4 xv = wasm_v128_load(x + k);
    f4 s0 = LANE(xv, 0), s1 = LANE(xv, 1), s2 = LANE(xv, 2), s3 = LANE(xv, 3);
    ACC1(w, wide, s0)
    ACC1(w + 16, wide, s1)
    ACC1(w + 32, wide, s2)
    ACC1(w + 48, wide, s3)
  }
  for (; k < in; k++, w += 16) {
    f4 s = wasm_f32x4_splat(x[k]);
    ACC1(w, wide, s)
  }
  float *o = y + blk * 16;
  wasm_v128_store(o, a0);
  wasm_v128_store(o + 4, a1);
  wasm_v128_store(o + 8, a2);
  wasm_v128_store(o + 12, a3);
}

static inline void block2h(const float *x0, const float *x1, int in, const half *W, const float *b, int blk, float *y0, float *y1, int wide) {
  const half *w = W + (long)blk * in * 16;
  v128_t M = wasm_i32x4_splat(HALF_MASK);
  f4 a0 = wasm_v128_load(b + blk * 16), a1 = wasm_v128_load(b + blk * 16 + 4);
  f4 a2 = wasm_v128_load(b + blk * 16 + 8), a3 = wasm_v128_load(b + blk * 16 + 12);
  f4 c0 = a0, c1 = a1, c2 = a2, c3 = a3;
  int k = 0;
  for (; k + 3 < in; k += 4, w += 64) {
    f4 xv = wasm_v128_load(x0 + k), xu = wasm_v128_load(x1 + k);
    f4 s0 = LANE(xv, 0), t0 = LANE(xu, 0);
    ACC2(w, wide, s0, t0)
    f4 s1 = LANE(xv, 1), t1 = LANE(xu, 1);
    ACC2(w + 16, wide, s1, t1)
    f4 s2 = LANE(xv, 2), t2 = LANE(xu, 2);
    ACC2(w + 32, wide, s2, t2)
    f4 s3 = LANE(xv, 3), t3 = LANE(xu, 3);
    ACC2(w + 48, wide, s3, t3)
  }
  for (; k < in; k++, w += 16) {
    f4 s = wasm_f32x4_splat(x0[k]), t = wasm_f32x4_splat(x1[k]);
    ACC2(w, wide, s, t)
  }
  float *o = y0 + blk * 16, *p = y1 + blk * 16;
  wasm_v128_store(o, a0);
  wasm_v128_store(o + 4, a1);
  wasm_v128_store(o + 8, a2);
  wasm_v128_store(o + 12, a3);
  wasm_v128_store(p, c0);
  wasm_v128_store(p + 4, c1);
  wasm_v128_store(p + 8, c2);
  wasm_v128_store(p + 12, c3);
}

static NOINLINE void matvec_h(int B, const float *x, int ldx, int in, const half *W, const float *b, int out, float *y, int ldy, float *xs) {
  /* xs = x 2^112 (rows of `in`), unless some |x| >= 2^16 (or NaN): then x as it is, and the weights scaled */
  int wide = 0;
  f4 lim = wasm_f32x4_splat(65536.0f), sc = wasm_f32x4_splat(TWO_112);
  for (int r = 0; r < B && !wide; r++) {
    const float *xr = x + r * ldx;
    float *sr = xs + r * in;
    int k = 0;
    for (; k + 3 < in; k += 4) {
      f4 v = wasm_v128_load(xr + k);
      if (!wasm_i32x4_all_true(wasm_f32x4_lt(wasm_f32x4_abs(v), lim))) { wide = 1; break; }
      wasm_v128_store(sr + k, wasm_f32x4_mul(v, sc));
    }
    for (; k < in && !wide; k++) {
      if (!(__builtin_fabsf(xr[k]) < 65536.0f)) { wide = 1; break; }
      sr[k] = xr[k] * TWO_112;
    }
  }
  const float *xx = wide ? x : xs;
  int ld = wide ? ldx : in;
  int nblk = pad16(out) / 16;
  for (int blk = 0; blk < nblk; blk++) {
    int r = 0;
    if (wide) {
      for (; r + 1 < B; r += 2) block2h(xx + r * ld, xx + (r + 1) * ld, in, W, b, blk, y + r * ldy, y + (r + 1) * ldy, 1);
      if (r < B) block1h(xx + r * ld, in, W, b, blk, y + r * ldy, 1);
    } else {
      for (; r + 1 < B; r += 2) block2h(xx + r * ld, xx + (r + 1) * ld, in, W, b, blk, y + r * ldy, y + (r + 1) * ldy, 0);
      if (r < B) block1h(xx + r * ld, in, W, b, blk, y + r * ldy, 0);
    }
  }
}

/* y = x W + b with the model's weight format: W points at f32 values or, in a half model, at f16 bits. */
static void product(const Model *m, const float *x, int ldx, int in, const float *W, const float *b, int out, float *y, int ldy) {
  if (m->half) matvec_h(m->B, x, ldx, in, (const half *)W, b, out, y, ldy, m->xs);
  else matvec(m->B, x, ldx, in, W, b, out, y, ldy);
}

/* ---------- elementwise helpers ---------- */

static inline float hsum(f4 v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3);
}

static inline float dot(const float *a, const float *b, int n) {
  f4 s = wasm_f32x4_splat(0);
  int i = 0;
  for (; i + 3 < n; i += 4) s = wasm_f32x4_add(s, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
  float r = hsum(s);
  for (; i < n; i++) r += a[i] * b[i];
  return r;
}

/* r[i] = dot(a, bi, n) for one vector a and four bi, interleaved: four independent sums, each the same sums in the
 * same order as dot() (a product is the same either way round). */
static inline void dot1x4(const float *a, const float *b0, const float *b1, const float *b2, const float *b3, int n, float *r) {
  f4 s0 = wasm_f32x4_splat(0), s1 = s0, s2 = s0, s3 = s0;
  int i = 0;
  for (; i + 3 < n; i += 4) {
    f4 av = wasm_v128_load(a + i);
    s0 = wasm_f32x4_add(s0, wasm_f32x4_mul(av, wasm_v128_load(b0 + i)));
    s1 = wasm_f32x4_add(s1, wasm_f32x4_mul(av, wasm_v128_load(b1 + i)));
    s2 = wasm_f32x4_add(s2, wasm_f32x4_mul(av, wasm_v128_load(b2 + i)));
    s3 = wasm_f32x4_add(s3, wasm_f32x4_mul(av, wasm_v128_load(b3 + i)));
  }
  float r0 = hsum(s0), r1 = hsum(s1), r2 = hsum(s2), r3 = hsum(s3);
  for (; i < n; i++) {
    r0 += a[i] * b0[i];
    r1 += a[i] * b1[i];
    r2 += a[i] * b2[i];
    r3 += a[i] * b3[i];
  }
  r[0] = r0;
  r[1] = r1;
  r[2] = r2;
  r[3] = r3;
}

/* y += a x */
static inline void axpy(float *y, float a, const float *x, int n) {
  f4 s = wasm_f32x4_splat(a);
  int i = 0;
  for (; i + 3 < n; i += 4) wasm_v128_store(y + i, wasm_f32x4_add(wasm_v128_load(y + i), wasm_f32x4_mul(s, wasm_v128_load(x + i))));
  for (; i < n; i++) y[i] += a * x[i];
}

#include "../common/vexp.h"

static inline float sexp(float x) { return wasm_f32x4_extract_lane(vexp(wasm_f32x4_splat(x)), 0); }

#include "../common/verf.h"

/* erf on four lanes. */
static inline f4 verf(f4 x) {
  f4 z = wasm_f32x4_abs(x);
  return verf_given_exp(x, vexp(wasm_f32x4_neg(wasm_f32x4_mul(z, z))));
}

/* gelu(x) = x/2 (1 + erf(x / sqrt 2)), in place on n values (n a multiple of 4: rows are padded to 16). */
static NOINLINE void gelu(float *x, int n) {
  for (int i = 0; i < n; i += 4) {
    f4 v = wasm_v128_load(x + i);
    f4 e = verf(wasm_f32x4_mul(v, wasm_f32x4_splat(0.70710678118654752f)));
    wasm_v128_store(x + i, wasm_f32x4_mul(wasm_f32x4_mul(v, wasm_f32x4_splat(0.5f)), wasm_f32x4_add(e, wasm_f32x4_splat(1.0f))));
  }
}

/*
 * phi(x) = elu(x) + 1 on four lanes, to the bit as tfjs-wasm computes tf.add(tf.elu(x), 1) (training's and the
 * `tensor` engine's phi): XNNPACK's f32 ELU kernel rr2-p6, expm1(x) = 2^n (p(t) t + t) + (2^n - 1) with
 * x = n ln2 + t, then + 1, each operation one float32 rounding in this order (no FMA: -ffp-contract=off). Not
 * exp(x): in float32, elu(x) + 1 lies on elu's grid near -1 (multiples of 2^-24 for x below about -0.7, and 0 from
 * -24.5 ln2 down), which matters where a head's normaliser phi(q).z + 1e-6 is near its eps. The same function in
 * TypeScript, with its derivation and test: src/cp/phi_host.ts.
 */
static inline f4 vphi(f4 x) {
  const f4 one = wasm_f32x4_splat(1.0f), magic = wasm_f32x4_splat(0x1.8000FEp23f);
  f4 n = wasm_f32x4_add(wasm_f32x4_mul(x, wasm_f32x4_splat(0x1.715476p+0f)), magic);
  f4 s = wasm_i32x4_shl(n, 23); /* 2^n: the bias 127 sits in n's low bits */
  n = wasm_f32x4_sub(n, magic);
  f4 t = wasm_f32x4_add(wasm_f32x4_mul(n, wasm_f32x4_splat(-0x1.62E440p-1f)), x);
  t = wasm_f32x4_add(wasm_f32x4_mul(n, wasm_f32x4_splat(0x1.0105C6p-21f)), t);
  v128_t sat = wasm_f32x4_le(x, wasm_f32x4_splat(-0x1.154246p+4f));
  s = wasm_v128_andnot(s, sat);
  t = wasm_v128_andnot(t, sat);
  f4 p = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_splat(0x1.6b7338p-10f), t), wasm_f32x4_splat(0x1.12278Ep-7f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), wasm_f32x4_splat(0x1.555716p-5f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), wasm_f32x4_splat(0x1.5554B0p-3f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), wasm_f32x4_splat(0x1.FFFFFEp-2f));
  p = wasm_f32x4_mul(p, t);
  t = wasm_f32x4_mul(t, s);
  s = wasm_f32x4_sub(s, one);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), t);
  f4 e = wasm_f32x4_add(p, s);
  return wasm_v128_bitselect(wasm_f32x4_add(x, one), wasm_f32x4_add(e, one), wasm_f32x4_ge(x, wasm_f32x4_splat(0)));
}

/* phi in place on n values. */
static NOINLINE void phi(float *x, int n) {
  int i = 0;
  for (; i + 3 < n; i += 4) wasm_v128_store(x + i, vphi(wasm_v128_load(x + i)));
  if (i < n) {
    float r[4] = {0, 0, 0, 0};
    for (int j = i; j < n; j++) r[j - i] = x[j];
    wasm_v128_store(r, vphi(wasm_v128_load(r)));
    for (int j = i; j < n; j++) x[j] = r[j - i];
  }
}

/* y = LayerNorm(a + b) over n values (b may be 0: then y = LayerNorm(a)); y may be a or b. */
static NOINLINE void add_norm(float *y, const float *a, const float *b, int n, const float *g, const float *beta, float eps) {
  int i = 0;
  if (b) {
    for (; i + 3 < n; i += 4) wasm_v128_store(y + i, wasm_f32x4_add(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    for (; i < n; i++) y[i] = a[i] + b[i];
  } else if (y != a) {
    for (; i < n; i++) y[i] = a[i];
  }
  f4 s = wasm_f32x4_splat(0);
  for (i = 0; i + 3 < n; i += 4) s = wasm_f32x4_add(s, wasm_v128_load(y + i));
  float mean = hsum(s);
  for (; i < n; i++) mean += y[i];
  mean /= (float)n;
  f4 m = wasm_f32x4_splat(mean), q = wasm_f32x4_splat(0);
  for (i = 0; i + 3 < n; i += 4) {
    f4 c = wasm_f32x4_sub(wasm_v128_load(y + i), m);
    q = wasm_f32x4_add(q, wasm_f32x4_mul(c, c));
  }
  float var = hsum(q);
  for (; i < n; i++) var += (y[i] - mean) * (y[i] - mean);
  float inv = 1.0f / __builtin_sqrtf(var / (float)n + eps);
  f4 iv = wasm_f32x4_splat(inv);
  for (i = 0; i + 3 < n; i += 4) {
    f4 c = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(y + i), m), iv);
    wasm_v128_store(y + i, wasm_f32x4_add(wasm_f32x4_mul(c, wasm_v128_load(g + i)), wasm_v128_load(beta + i)));
  }
  for (; i < n; i++) y[i] = (y[i] - mean) * inv * g[i] + beta[i];
}

/* ---------- attention of one new position, one sequence ---------- */

/* Linear: phi(q), phi(k) in place in qkv; S += v phi(k)^T, z += phi(k); out_j = S_j . phi(q) / (phi(q) . z + eps). */
static NOINLINE void linear_attention(const Model *m, float *qkv, float *S, float *z, float *out) {
  int d = m->d, dh = d / m->h;
  phi(qkv, 2 * d);
  for (int hd = 0; hd < m->h; hd++) {
    const float *fq = qkv + hd * dh, *fk = qkv + d + hd * dh, *v = qkv + 2 * d + hd * dh;
    float *Sh = S + hd * dh * dh, *zh = z + hd * dh;
    axpy(zh, 1.0f, fk, dh);
    float den = dot(fq, zh, dh) + 1e-6f;
    /* four rows of S at a time: their dots with phi(q) are four independent sums (dot1x4), not one chain of
     * dependent adds after another */
    int j = 0;
    for (; j + 3 < dh; j += 4) {
      float *r0 = Sh + j * dh, *r1 = r0 + dh, *r2 = r1 + dh, *r3 = r2 + dh;
      axpy(r0, v[j], fk, dh);
      axpy(r1, v[j + 1], fk, dh);
      axpy(r2, v[j + 2], fk, dh);
      axpy(r3, v[j + 3], fk, dh);
      float r[4];
      dot1x4(fq, r0, r1, r2, r3, dh, r);
      for (int i = 0; i < 4; i++) out[hd * dh + j + i] = r[i] / den;
    }
    for (; j < dh; j++) {
      float *row = Sh + j * dh;
      axpy(row, v[j], fk, dh);
      out[hd * dh + j] = dot(row, fq, dh) / den;
    }
  }
}

/*
 * Softmax: appends k, v at position t of the cache, then out = softmax(q K^T / sqrt dh) V per head. Keys are kept in
 * blocks of KROWS positions, column by column ([cap/KROWS][d][KROWS]), so that a head's scores for a block are a
 * small matrix-vector product like the weights' (the query's value broadcast, KROWS keys' values loaded at once, no
 * horizontal sums); values stay row by row ([cap][d]) and are summed VROWS rows at a time. p holds [h][cap] scores.
 * Measured against keys row by row with four dot products at a time (the fastest of 8 pieces per position, one
 * core, three alternated pairs): 325-338 against 346-382 us per word at 250-300 words, 294-303 against 305-324
 * over the first 300 (README, "Performance").
 */
/* Diagnostics, off in the shipped module: built with -DSTEP_NO_SCORES or -DSTEP_NO_VALUES (STEP_CFLAGS in build.sh),
 * the scores or the value sums are left out, so that their time can be read off (README, "Performance"); the
 * pieces are then wrong. */
/* Rows of V per pass of the value sums below (16 rows of 256 floats: 16 KB, within L1). */
#define VROWS 16
/* Positions per block of the key cache: keys [cap/KROWS][d][KROWS] (cap a multiple of KROWS). */
#define KROWS 16
static NOINLINE void softmax_attention(const Model *m, const float *qkv, float *K, float *V, int t, int cap, float *p, float *out) {
  int d = m->d, h = m->h, dh = d / h, T = t + 1;
  /* the key of position t into its block: column c at kb[16 c] */
  float *kb = K + (long)(t & ~(KROWS - 1)) * d + (t & (KROWS - 1));
  for (int c = 0; c < d; c++) kb[KROWS * c] = qkv[d + c];
  __builtin_memcpy(V + t * d, qkv + 2 * d, d * sizeof(float));
  float scale = 1.0f / __builtin_sqrtf((float)dh);
  f4 sc = wasm_f32x4_splat(scale);
#ifndef STEP_NO_SCORES
  /* 16 positions' scores of a head at once, in four registers, over the head's dh columns: each score is
   * q_0 k_0 + q_1 k_1 + ... in this order (then times scale), as the matrix products sum, with no horizontal sums.
   * Scores of a block's positions past t are computed from whatever the cache holds there and never read. */
  for (int j0 = 0; j0 < T; j0 += KROWS) {
    const float *blk = K + (long)j0 * d;
    for (int hd = 0; hd < h; hd++) {
      const float *q = qkv + hd * dh, *k = blk + hd * dh * KROWS;
      f4 a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
      for (int i = 0; i < dh; i++, k += KROWS) {
        f4 s = wasm_v128_load32_splat(q + i);
        MA4(a0, a1, a2, a3, s, k);
      }
      float *ph = p + hd * cap + j0;
      wasm_v128_store(ph, wasm_f32x4_mul(a0, sc));
      wasm_v128_store(ph + 4, wasm_f32x4_mul(a1, sc));
      wasm_v128_store(ph + 8, wasm_f32x4_mul(a2, sc));
      wasm_v128_store(ph + 12, wasm_f32x4_mul(a3, sc));
    }
  }
#else
  for (int hd = 0; hd < h; hd++) for (int j = 0; j < T; j++) p[hd * cap + j] = 0.0f * scale;
#endif
  float inv[h];
  for (int hd = 0; hd < h; hd++) {
    float *ph = p + hd * cap;
    float max = -3.4e38f;
    for (int j = 0; j < T; j++) {
      if (ph[j] > max) max = ph[j];
    }
    f4 mx = wasm_f32x4_splat(max), acc = wasm_f32x4_splat(0);
    int j = 0;
    for (; j + 3 < T; j += 4) {
      f4 e = vexp(wasm_f32x4_sub(wasm_v128_load(ph + j), mx));
      wasm_v128_store(ph + j, e);
      acc = wasm_f32x4_add(acc, e);
    }
    float sum = hsum(acc);
    for (; j < T; j++) sum += (ph[j] = sexp(ph[j] - max));
    inv[hd] = 1.0f / sum;
  }
#ifndef STEP_NO_VALUES
  if (dh % 32 == 0) {
    /* 32 outputs of a head at a time, their sums in eight registers over the rows j (the same sums in the
     * same order as the row-by-row axpy below: 0 + p_0 v_0 + p_1 v_1 + ...), instead of loading and storing
     * out for every row: ~40% fewer instructions on V's side. The rows go VROWS at a time, every head and column
     * of them before the next VROWS (the sums stored in out and loaded again between, exactly): a block of rows
     * (16 KB) is read whole within a short time, which the caches and their prefetchers serve far better than
     * eight strided passes over all T rows (128 bytes of every 1 KB row each; the ~13 MB of weights read per
     * word leave little of V in L2). Measured (min over 10 pieces, one core): per word at 550-600 words 505 us against
     * 580 on a quiet machine, ~510 against ~860 with a training on the other core (README, session 15). */
    for (int j0 = 0; j0 < T; j0 += VROWS) {
      int j1 = j0 + VROWS < T ? j0 + VROWS : T;
      for (int hd = 0; hd < h; hd++) {
        const float *ph = p + hd * cap;
        for (int c0 = hd * dh; c0 < (hd + 1) * dh; c0 += 32) {
          float *o = out + c0;
          f4 a0, a1, a2, a3, a4, a5, a6, a7;
          if (j0 == 0) {
            a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
          } else {
            a0 = wasm_v128_load(o), a1 = wasm_v128_load(o + 4), a2 = wasm_v128_load(o + 8), a3 = wasm_v128_load(o + 12);
            a4 = wasm_v128_load(o + 16), a5 = wasm_v128_load(o + 20), a6 = wasm_v128_load(o + 24), a7 = wasm_v128_load(o + 28);
          }
          const float *v = V + j0 * d + c0;
          for (int j = j0; j < j1; j++, v += d) {
            f4 s = wasm_v128_load32_splat(ph + j);
            MA4(a0, a1, a2, a3, s, v);
            MA4(a4, a5, a6, a7, s, v + 16);
          }
          wasm_v128_store(o, a0);
          wasm_v128_store(o + 4, a1);
          wasm_v128_store(o + 8, a2);
          wasm_v128_store(o + 12, a3);
          wasm_v128_store(o + 16, a4);
          wasm_v128_store(o + 20, a5);
          wasm_v128_store(o + 24, a6);
          wasm_v128_store(o + 28, a7);
        }
      }
    }
  } else {
    for (int c = 0; c < d; c++) out[c] = 0;
    for (int j = 0; j < T; j++) {
      const float *v = V + j * d;
      for (int hd = 0; hd < h; hd++) axpy(out + hd * dh, p[hd * cap + j], v + hd * dh, dh);
    }
  }
#else
  for (int c = 0; c < d; c++) out[c] = 0;
#endif
  for (int hd = 0; hd < h; hd++) {
    for (int c = 0; c < dh; c++) out[hd * dh + c] *= inv[hd];
  }
}

/* ---------- the step ---------- */

/* x[r] = in_b + tables[rows[r][0]] + ... + tables[rows[r][7]], each sum rounded to f32 in this order (P(d) values:
 * the padding is zeros in the bias and the tables). */
static NOINLINE void embed_rows(const Model *m) {
  int pd = pad16(m->d);
  for (int r = 0; r < m->B; r++) {
    const int *row = m->rows + r * 8;
    const float *t0 = m->tables + (long)row[0] * pd, *t1 = m->tables + (long)row[1] * pd, *t2 = m->tables + (long)row[2] * pd;
    const float *t3 = m->tables + (long)row[3] * pd, *t4 = m->tables + (long)row[4] * pd, *t5 = m->tables + (long)row[5] * pd;
    const float *t6 = m->tables + (long)row[6] * pd, *t7 = m->tables + (long)row[7] * pd;
    float *x = m->x + r * pd;
    for (int i = 0; i < pd; i += 4) {
      f4 a = wasm_v128_load(m->in_b + i);
      a = wasm_f32x4_add(a, wasm_v128_load(t0 + i));
      a = wasm_f32x4_add(a, wasm_v128_load(t1 + i));
      a = wasm_f32x4_add(a, wasm_v128_load(t2 + i));
      a = wasm_f32x4_add(a, wasm_v128_load(t3 + i));
      a = wasm_f32x4_add(a, wasm_v128_load(t4 + i));
      a = wasm_f32x4_add(a, wasm_v128_load(t5 + i));
      a = wasm_f32x4_add(a, wasm_v128_load(t6 + i));
      a = wasm_f32x4_add(a, wasm_v128_load(t7 + i));
      wasm_v128_store(x + i, a);
    }
  }
}

/* Feeds one word per sequence (m->emb, m->pe at position pos) and writes the type logits. */
__attribute__((export_name("cp_feed"))) void cp_feed(Model *m, int pos) {
  int B = m->B, d = m->d, pd = pad16(d), p3 = pad16(3 * d), pf = pad16(m->dff);
  /* in_linear of the concatenated embeddings is a sum over families of (embedding row of the word) W_f: the
   * engine keeps each family's rows projected (a table per family, `pre`), and a word's row is the bias plus its
   * eight table rows, added in FAMILIES order */
  if (m->pre) embed_rows(m);
  else product(m, m->emb, m->E, m->E, m->in_w, m->in_b, d, m->x, pd);
  for (int r = 0; r < B; r++) axpy(m->x + r * pd, 1.0f, m->pe, d);
  int dh = d / m->h;
  for (int l = 0; l < m->n_layers; l++) {
    Layer *L = &m->layers[l];
    product(m, m->x, pd, d, L->qkv_w, L->qkv_b, 3 * d, m->qkv, p3);
    for (int r = 0; r < B; r++) {
      float *qkv = m->qkv + r * p3, *heads = m->att + r * pd;
      if (m->softmax) softmax_attention(m, qkv, L->sa + r * L->cap * d, L->sb + r * L->cap * d, pos, L->cap, m->scores, heads);
      else linear_attention(m, qkv, L->sa + r * m->h * dh * dh, L->sb + r * d, heads);
    }
    /* out_projection into qkv's rows (free now), then x1 = norm1(x + a) in x */
    product(m, m->att, pd, d, L->out_w, L->out_b, d, m->qkv, p3);
    for (int r = 0; r < B; r++) add_norm(m->x + r * pd, m->x + r * pd, m->qkv + r * p3, d, L->n1_g, L->n1_b, L->n1_eps);
    product(m, m->x, pd, d, L->ff1_w, L->ff1_b, m->dff, m->ffh, pf);
    for (int r = 0; r < B; r++) gelu(m->ffh + r * pf, pf);
    product(m, m->ffh, pf, m->dff, L->ff2_w, L->ff2_b, d, m->att, pd);
    for (int r = 0; r < B; r++) add_norm(m->x + r * pd, m->x + r * pd, m->att + r * pd, d, L->n2_g, L->n2_b, L->n2_eps);
  }
  int ce = d + m->e_type;
  for (int r = 0; r < B; r++) {
    add_norm(m->x + r * pd, m->x + r * pd, 0, d, m->norm_g, m->norm_b, m->norm_eps);
    __builtin_memcpy(m->cat + r * ce, m->x + r * pd, d * sizeof(float));
  }
  product(m, m->x, pd, d, m->type_w, m->type_b, m->n_type, m->type_logits, pad16(m->n_type));
}

/* The seven other families' logits from cat = [h | type embedding] (the caller wrote the type rows). */
__attribute__((export_name("cp_rest"))) void cp_rest(Model *m) {
  int d = m->d, pd = pad16(d), ce = d + m->e_type;
  product(m, m->cat, ce, ce, m->cat_w, m->cat_b, d, m->y, pd);
  product(m, m->y, pd, d, m->rest_w, m->rest_b, m->n_rest, m->rest_logits, pad16(m->n_rest));
}

/* ---------- packing the weights (the engine's start-up; pack.ts has the same layouts in TypeScript) ---------- */

/* The half-precision bits of the f32 with bits u when it is exactly a half, else -1 (pack.ts `halfBitsOf`). */
static inline int half_bits(unsigned u) {
  unsigned a = u & 0x7fffffffu, sign = (u >> 16) & 0x8000u;
  if (a >= 0x38800000u && a < 0x47800000u) return (a & 0x1fffu) ? -1 : (int)(sign | ((a - 0x38000000u) >> 13));
  if (a == 0) return (int)sign;
  unsigned e = a >> 23;
  if (e >= 103 && e < 113) {
    unsigned sig = (a & 0x7fffffu) | 0x800000u, sh = 126 - e;
    return (sig & ((1u << sh) - 1)) ? -1 : (int)(sign | (sig >> sh));
  }
  return -1;
}

/* Four lanes at once: the half bits of f32 bits u where they are normal halves (1 in `ok`), else junk. */
static inline v128_t half_bits4(v128_t u, v128_t *ok) {
  v128_t a = wasm_v128_and(u, wasm_i32x4_splat(0x7fffffff));
  *ok = wasm_v128_and(wasm_v128_and(wasm_u32x4_ge(a, wasm_i32x4_splat(0x38800000)), wasm_u32x4_lt(a, wasm_i32x4_splat(0x47800000))),
                      wasm_i32x4_eq(wasm_v128_and(a, wasm_i32x4_splat(0x1fff)), wasm_i32x4_splat(0)));
  v128_t sign = wasm_v128_and(wasm_u32x4_shr(u, 16), wasm_i32x4_splat(0x8000));
  return wasm_v128_or(sign, wasm_u32x4_shr(wasm_i32x4_sub(a, wasm_i32x4_splat(0x38000000)), 13));
}

/* Output o of a block among the 16 halves of a row (pack.ts `halfSlot`; see HALF_ROW). */
static inline int half_slot(int o) { return (o & 8) + 2 * (o & 3) + ((o >> 2) & 1); }

/*
 * W (in, out) row-major f32 at src -> [P(out)/16][in][16] halves at dst; returns 0 as soon as a value is not exactly
 * a half (dst then partly written), else 1. A row of 16 normal halves is converted four lanes at a time: lane i of
 * the first 16 bytes holds outputs i and i + 4 (halfSlot), that is h(0..3) | h(4..7) << 16.
 */
__attribute__((export_name("cp_pack_half"))) int cp_pack_half(const unsigned *src, int in, int out, half *dst) {
  for (int o0 = 0; o0 < out; o0 += 16) {
    int n = out - o0 < 16 ? out - o0 : 16;
    for (int k = 0; k < in; k++, dst += 16) {
      const unsigned *row = src + (long)k * out + o0;
      if (n == 16) {
        v128_t k0, k1, k2, k3;
        v128_t h0 = half_bits4(wasm_v128_load(row), &k0), h1 = half_bits4(wasm_v128_load(row + 4), &k1);
        v128_t h2 = half_bits4(wasm_v128_load(row + 8), &k2), h3 = half_bits4(wasm_v128_load(row + 12), &k3);
        if (wasm_i32x4_all_true(wasm_v128_and(wasm_v128_and(k0, k1), wasm_v128_and(k2, k3)))) {
          wasm_v128_store(dst, wasm_v128_or(h0, wasm_i32x4_shl(h1, 16)));
          wasm_v128_store(dst + 8, wasm_v128_or(h2, wasm_i32x4_shl(h3, 16)));
          continue;
        }
      }
      for (int j = 0; j < 16; j++) {
        int h = j < n ? half_bits(row[j]) : 0;
        if (h < 0) return 0;
        dst[half_slot(j)] = (half)h;
      }
    }
  }
  return 1;
}

/* W (in, out) row-major f32 at src -> [P(out)/16][in][16] f32 at dst. */
__attribute__((export_name("cp_pack_f32"))) void cp_pack_f32(const float *src, int in, int out, float *dst) {
  for (int o0 = 0; o0 < out; o0 += 16) {
    int n = out - o0 < 16 ? out - o0 : 16;
    for (int k = 0; k < in; k++, dst += 16) {
      const float *row = src + (long)k * out + o0;
      if (n == 16) {
        /* four vector copies: this runs once per process, as Liftoff's baseline code, where the scalar loop
         * below took 15-25 ms for the small preset's 3.4 M weights */
        wasm_v128_store(dst, wasm_v128_load(row));
        wasm_v128_store(dst + 4, wasm_v128_load(row + 4));
        wasm_v128_store(dst + 8, wasm_v128_load(row + 8));
        wasm_v128_store(dst + 12, wasm_v128_load(row + 12));
        continue;
      }
      for (int j = 0; j < 16; j++) dst[j] = j < n ? row[j] : 0;
    }
  }
}

/*
 * One family's in_linear table: out[v] (rows of P(d)) = sum over j < e of emb[v][j] W[j] (W: the e rows of in_linear
 * that read the family, d wide), each sum in float64 in this order (from 0) and rounded to f32 once (wasm_engine.ts
 * `inLinearTables`, which computed it in JavaScript until session 14: the same float64 operations, so the same
 * tables to the bit; a product of two floats is exact in float64). acc: d doubles of scratch.
 */
__attribute__((export_name("cp_in_table"))) void cp_in_table(const float *emb, int V, int e, const float *W, int d, float *out, double *acc) {
  int pd = pad16(d);
  for (int v = 0; v < V; v++) {
    for (int i = 0; i < d; i++) acc[i] = 0;
    for (int j = 0; j < e; j++) {
      v128_t a = wasm_f64x2_splat((double)emb[v * e + j]);
      const float *w = W + (long)j * d;
      int i = 0;
      for (; i + 3 < d; i += 4) {
        v128_t w4 = wasm_v128_load(w + i);
        v128_t lo = wasm_f64x2_promote_low_f32x4(w4), hi = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(w4, w4, 2, 3, 2, 3));
        wasm_v128_store(acc + i, wasm_f64x2_add(wasm_v128_load(acc + i), wasm_f64x2_mul(a, lo)));
        wasm_v128_store(acc + i + 2, wasm_f64x2_add(wasm_v128_load(acc + i + 2), wasm_f64x2_mul(a, hi)));
      }
      for (; i < d; i++) acc[i] += (double)emb[v * e + j] * (double)w[i];
    }
    for (int i = 0; i < d; i++) out[(long)v * pd + i] = (float)acc[i];
  }
}

/* The sizes of the descriptors, so that the TypeScript side can check its layout against this build. */
__attribute__((export_name("cp_model_size"))) int cp_model_size(void) { return sizeof(Model); }
__attribute__((export_name("cp_layer_size"))) int cp_layer_size(void) { return sizeof(Layer); }
