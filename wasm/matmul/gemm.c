/*
 * Blocked, packed f32 matrix product for wasm32 with 128-bit SIMD:
 *
 *   C[b] = op(A[b]) · op(B[b])  (+ bias[n] on every row when bias != 0)
 *
 * for b = 0..batch-1, where op(A) is M x K (A stored [M][K], or [K][M] when transA) and op(B) is K x N
 * (B stored [K][N], or [N][K] when transB), all row-major. Batch strides are in floats; a stride of 0 repeats
 * the same matrix for every batch element (tfjs's batch broadcasting of a single matrix).
 *
 * Scheme (the usual one of BLIS/GotoBLAS): K is cut into blocks of KC, N into blocks of NC, M into blocks of
 * MC. A KC x NC block of op(B) is packed into NR-wide column panels ([k][NR], zero-padded), an MC x KC block
 * of op(A) into MR-high row panels ([k][MR], zero-padded), so the register kernel reads both operands
 * sequentially whatever the transpose flags. The kernel keeps an MR x NR tile of C in MR*NR/4 vector
 * registers. Partial tiles at the edges go through a small tile in the work buffer.
 *
 * No data segment, no stack and no imports other than the memory: the module can share the linear memory
 * of another module (tfjs-backend-wasm's) and writes only where it is told to (C and `work`).
 */
#include <wasm_simd128.h>

/*
 * GEMM_FMA (wasm/matmul_fma/gemm_fma.c, built by clang-19 with -mrelaxed-simd): the multiply-add of the
 * register kernel is relaxed SIMD's f32x4.relaxed_madd, a fused multiply-add (one rounding) where the CPU has
 * one (x86 with FMA3, ARMv8), else a multiply and an add. The blocking is the same; only the tile may differ.
 */
#ifdef GEMM_FMA
#define MADD(acc, a, b) wasm_f32x4_relaxed_madd((a), (b), (acc))
#else
#define MADD(acc, a, b) wasm_f32x4_add((acc), wasm_f32x4_mul((a), (b)))
#endif

#ifndef MR
#define MR 4
#endif
#ifndef NR
#define NR 8
#endif
#ifndef KC
#define KC 256
#endif
#ifndef MC
#define MC 64
#endif
#ifndef NC
#define NC 512
#endif

/* Floats of work space a call needs: the packed A block, the packed B block and one edge tile. */
__attribute__((export_name("work_floats"))) int work_floats(void) {
  return MC * KC + KC * NC + MR * NR;
}

/* Packs rows i0..i0+mc-1, depths k0..k0+kc-1 of op(A) into MR-row panels: dst[panel][k][MR]. */
static void pack_a(const float *A, int M, int K, int transA, int i0, int mc, int k0, int kc, float *dst) {
  for (int p = 0; p < mc; p += MR) {
    int rows = mc - p < MR ? mc - p : MR;
    for (int k = 0; k < kc; k++) {
      for (int r = 0; r < MR; r++) {
        float v = 0.0f;
        if (r < rows) {
          int i = i0 + p + r;
          v = transA ? A[(k0 + k) * M + i] : A[i * K + (k0 + k)];
        }
        dst[k * MR + r] = v;
      }
    }
    dst += kc * MR;
  }
}

/* Packs depths k0..k0+kc-1, columns j0..j0+nc-1 of op(B) into NR-column panels: dst[panel][k][NR]. */
static void pack_b(const float *B, int K, int N, int transB, int k0, int kc, int j0, int nc, float *dst) {
  for (int q = 0; q < nc; q += NR) {
    int cols = nc - q < NR ? nc - q : NR;
    if (!transB && cols == NR) {
      for (int k = 0; k < kc; k++) {
        const float *src = B + (k0 + k) * N + j0 + q;
#pragma clang loop unroll(full)
        for (int v = 0; v < NR / 4; v++) wasm_v128_store(dst + k * NR + 4 * v, wasm_v128_load(src + 4 * v));
      }
    } else {
      for (int k = 0; k < kc; k++) {
        for (int c = 0; c < NR; c++) {
          float v = 0.0f;
          if (c < cols) {
            int j = j0 + q + c;
            v = transB ? B[j * K + (k0 + k)] : B[(k0 + k) * N + j];
          }
          dst[k * NR + c] = v;
        }
      }
    }
    dst += kc * NR;
  }
}

/*
 * The register kernel: an MR x NR tile of C (row stride ldc) = (accumulate ? C : 0) + sum over k of
 * a[k][r] b[k][c]. The loops have constant bounds and are unrolled, so the tile lives in MR*NR/4 locals.
 */
static void kernel(int kc, const float *a, const float *b, float *c, int ldc, int accumulate) {
  v128_t acc[MR][NR / 4];
#pragma clang loop unroll(full)
  for (int r = 0; r < MR; r++)
#pragma clang loop unroll(full)
    for (int v = 0; v < NR / 4; v++) acc[r][v] = wasm_f32x4_splat(0.0f);
  for (int k = 0; k < kc; k++) {
    v128_t bv[NR / 4];
#pragma clang loop unroll(full)
    for (int v = 0; v < NR / 4; v++) bv[v] = wasm_v128_load(b + 4 * v);
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
      v128_t av = wasm_v128_load32_splat(a + r);
#pragma clang loop unroll(full)
      for (int v = 0; v < NR / 4; v++) acc[r][v] = MADD(acc[r][v], av, bv[v]);
    }
    a += MR;
    b += NR;
  }
#pragma clang loop unroll(full)
  for (int r = 0; r < MR; r++)
#pragma clang loop unroll(full)
    for (int v = 0; v < NR / 4; v++) {
      v128_t x = acc[r][v];
      if (accumulate) x = wasm_f32x4_add(x, wasm_v128_load(c + r * ldc + 4 * v));
      wasm_v128_store(c + r * ldc + 4 * v, x);
    }
}

/* One product C = op(A) op(B) (+ bias), M x N, through the blocks described at the top. */
static void gemm1(int M, int N, int K, const float *A, int transA, const float *B, int transB, float *C,
                  const float *bias, float *work) {
  float *pa = work;
  float *pb = work + MC * KC;
  float *tile = pb + KC * NC;
  if (K == 0) {
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) C[i * N + j] = bias ? bias[j] : 0.0f;
    return;
  }
  for (int j0 = 0; j0 < N; j0 += NC) {
    int nc = N - j0 < NC ? N - j0 : NC;
    for (int k0 = 0; k0 < K; k0 += KC) {
      int kc = K - k0 < KC ? K - k0 : KC;
      int first = k0 == 0;
      pack_b(B, K, N, transB, k0, kc, j0, nc, pb);
      for (int i0 = 0; i0 < M; i0 += MC) {
        int mc = M - i0 < MC ? M - i0 : MC;
        pack_a(A, M, K, transA, i0, mc, k0, kc, pa);
        for (int q = 0; q < nc; q += NR) {
          int cols = nc - q < NR ? nc - q : NR;
          const float *bp = pb + (q / NR) * kc * NR;
          for (int p = 0; p < mc; p += MR) {
            int rows = mc - p < MR ? mc - p : MR;
            const float *ap = pa + (p / MR) * kc * MR;
            float *c = C + (i0 + p) * N + j0 + q;
            if (rows == MR && cols == NR) {
              kernel(kc, ap, bp, c, N, !first);
            } else {
              kernel(kc, ap, bp, tile, NR, 0);
              for (int r = 0; r < rows; r++)
                for (int s = 0; s < cols; s++)
                  c[r * N + s] = first ? tile[r * NR + s] : c[r * N + s] + tile[r * NR + s];
            }
          }
        }
      }
    }
  }
  if (bias) {
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) C[i * N + j] += bias[j];
  }
}

/*
 * The exported entry: `batch` products, A, B and C advanced by their strides (floats) between products.
 * bias: 0 for none, else N floats added to every row. work: work_floats() floats of scratch.
 */
__attribute__((export_name("gemm"))) void gemm(int batch, int M, int N, int K, const float *A, int strideA,
                                                int transA, const float *B, int strideB, int transB, float *C,
                                                int strideC, const float *bias, float *work) {
  for (int b = 0; b < batch; b++) {
    gemm1(M, N, K, A + b * strideA, transA, B + b * strideB, transB, C + b * strideC, bias, work);
  }
}
