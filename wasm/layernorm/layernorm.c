/*
 * Layer normalisation over the last axis (torch.nn.LayerNorm: biased variance, eps inside the square root) and
 * its gradient, for wasm32 with 128-bit SIMD, on R rows of D values:
 *   mean = Σx / D, var = Σ(x - mean)² / D, rstd = 1 / sqrt(var + eps), xhat = (x - mean) rstd
 *   y = xhat gamma + beta
 *   g = dy gamma; dx = rstd (g - mean(g) - xhat mean(g xhat)); dgamma = Σ_rows dy xhat; dbeta = Σ_rows dy
 * Row sums run in four float32 lanes added at the end (then the tail), the column sums in row order. The
 * backward pass recomputes mean and rstd from x (one more read of a row already being read).
 *
 * No data segment, no stack, imports only the memory: it runs inside tfjs-backend-wasm's heap on the tensors
 * where they lie and writes only its outputs.
 */
#include <wasm_simd128.h>

typedef v128_t f4;

static inline float hsum(f4 v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) + (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

/* mean and 1 / sqrt(var + eps) of one row. */
static inline void row_stats(int D, const float *x, float eps, float *mean_out, float *rstd_out) {
  int j = 0;
  f4 s = wasm_f32x4_splat(0.0f);
  for (; j + 4 <= D; j += 4) s = wasm_f32x4_add(s, wasm_v128_load(x + j));
  float sum = hsum(s);
  for (; j < D; j++) sum += x[j];
  float mean = sum / (float)D;
  f4 m = wasm_f32x4_splat(mean);
  f4 q = wasm_f32x4_splat(0.0f);
  j = 0;
  for (; j + 4 <= D; j += 4) {
    f4 c = wasm_f32x4_sub(wasm_v128_load(x + j), m);
    q = wasm_f32x4_add(q, wasm_f32x4_mul(c, c));
  }
  float sq = hsum(q);
  for (; j < D; j++) {
    float c = x[j] - mean;
    sq += c * c;
  }
  float var = sq / (float)D;
  *mean_out = mean;
  *rstd_out = 1.0f / __builtin_sqrtf(var + eps);
}

__attribute__((export_name("layernorm_forward")))
void layernorm_forward(int R, int D, float eps, const float *x, const float *gamma, const float *beta, float *y) {
  for (int r = 0; r < R; r++) {
    const float *xr = x + (long)r * D;
    float *yr = y + (long)r * D;
    float mean, rstd;
    row_stats(D, xr, eps, &mean, &rstd);
    f4 m = wasm_f32x4_splat(mean), s = wasm_f32x4_splat(rstd);
    int j = 0;
    for (; j + 4 <= D; j += 4) {
      f4 xh = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + j), m), s);
      wasm_v128_store(yr + j, wasm_f32x4_add(wasm_f32x4_mul(xh, wasm_v128_load(gamma + j)), wasm_v128_load(beta + j)));
    }
    for (; j < D; j++) yr[j] = ((xr[j] - mean) * rstd) * gamma[j] + beta[j];
  }
}

__attribute__((export_name("layernorm_backward")))
void layernorm_backward(int R, int D, float eps, const float *x, const float *gamma, const float *dy, float *dx, float *dgamma,
                        float *dbeta) {
  for (int j = 0; j < D; j++) {
    dgamma[j] = 0.0f;
    dbeta[j] = 0.0f;
  }
  for (int r = 0; r < R; r++) {
    const float *xr = x + (long)r * D;
    const float *gr = dy + (long)r * D;
    float *dxr = dx + (long)r * D;
    float mean, rstd;
    row_stats(D, xr, eps, &mean, &rstd);
    f4 m = wasm_f32x4_splat(mean), s = wasm_f32x4_splat(rstd);
    /* Σ g and Σ g xhat over the row, and the column sums. */
    f4 sg = wasm_f32x4_splat(0.0f), sgx = wasm_f32x4_splat(0.0f);
    int j = 0;
    for (; j + 4 <= D; j += 4) {
      f4 xh = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + j), m), s);
      f4 d = wasm_v128_load(gr + j);
      f4 g = wasm_f32x4_mul(d, wasm_v128_load(gamma + j));
      sg = wasm_f32x4_add(sg, g);
      sgx = wasm_f32x4_add(sgx, wasm_f32x4_mul(g, xh));
      wasm_v128_store(dgamma + j, wasm_f32x4_add(wasm_v128_load(dgamma + j), wasm_f32x4_mul(d, xh)));
      wasm_v128_store(dbeta + j, wasm_f32x4_add(wasm_v128_load(dbeta + j), d));
    }
    float sumg = hsum(sg), sumgx = hsum(sgx);
    for (; j < D; j++) {
      float xh = (xr[j] - mean) * rstd;
      float g = gr[j] * gamma[j];
      sumg += g;
      sumgx += g * xh;
      dgamma[j] += gr[j] * xh;
      dbeta[j] += gr[j];
    }
    float mg = sumg / (float)D, mgx = sumgx / (float)D;
    f4 vmg = wasm_f32x4_splat(mg), vmgx = wasm_f32x4_splat(mgx);
    j = 0;
    for (; j + 4 <= D; j += 4) {
      f4 xh = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + j), m), s);
      f4 g = wasm_f32x4_mul(wasm_v128_load(gr + j), wasm_v128_load(gamma + j));
      f4 t = wasm_f32x4_sub(wasm_f32x4_sub(g, vmg), wasm_f32x4_mul(xh, vmgx));
      wasm_v128_store(dxr + j, wasm_f32x4_mul(t, s));
    }
    for (; j < D; j++) {
      float xh = (xr[j] - mean) * rstd;
      float g = gr[j] * gamma[j];
      dxr[j] = ((g - mg) - xh * mgx) * rstd;
    }
  }
}
