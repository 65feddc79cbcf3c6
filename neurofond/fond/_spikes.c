/*
 * Exact Poisson spike counts for CPU float32 rate arrays (neurofond.fond.sampling).
 *
 * Why: at B=1000 patches x K=512 neurons, torch.poisson costs several times the inference
 * step's matrix products. Trained iP-VAE populations are sparse (most rates well below 1),
 * so most counts are decided by a single uniform draw: z = 0 when U < exp(-r).
 *
 * Method, per element with rate r (p0 = exp(-r) computed by the caller, vectorised):
 *   - r < INVERSION_MAX: sequential CDF inversion with one uniform U (double precision):
 *       z = smallest k with U < sum_{j<=k} exp(-r) r^j / j!.
 *     The zero test U < p0 settles ~85% of trained elements with one draw.
 *   - r >= INVERSION_MAX: Hormann's transformed rejection with squeeze (PTRS; W. Hormann,
 *     "The transformed rejection method for generating Poisson random variables",
 *     Insurance: Mathematics and Economics 12, 1993), exact, O(1) expected draws.
 * Random numbers: xoshiro256** (Blackman & Vigna 2018), one generator per block of
 * BLOCK_SIZE elements, seeded by splitmix64 from (seed, block index). Blocks are
 * independent, so any split of blocks across threads gives the same counts.
 *
 * No Python objects are touched while sampling: the GIL is released.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__)
#define SUB_SIMD 1 /* AVX2+FMA and AVX-512 builds chosen at run time (sub_rows, update_sample,
                    * the CDF inversion) */
#endif

#define BLOCK_SIZE 4096
#define INVERSION_MAX 10.0
/* Inversion never goes past this count: P(Poisson(10) > 200) < 1e-100. */
#define INVERSION_KMAX 200

typedef struct {
    uint64_t s[4];
} rng_t;

static inline uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static void rng_seed(rng_t *g, uint64_t seed, uint64_t block) {
    uint64_t x = seed ^ (block * 0xD1B54A32D192ED03ULL);
    for (int i = 0; i < 4; i++) g->s[i] = splitmix64(&x);
}

static inline uint64_t rng_next(rng_t *g) {
    uint64_t *s = g->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform double in [0, 1) with 53 random bits. */
static inline double rng_uniform(rng_t *g) { return (double)(rng_next(g) >> 11) * 0x1.0p-53; }

static double poisson_ptrs(rng_t *g, double lam) {
    double slam = sqrt(lam), loglam = log(lam);
    double b = 0.931 + 2.53 * slam;
    double a = -0.059 + 0.02483 * b;
    double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    double v_r = 0.9277 - 3.6224 / (b - 2.0);
    for (;;) {
        double u = rng_uniform(g) - 0.5;
        double v = rng_uniform(g);
        double us = 0.5 - fabs(u);
        double k = floor((2.0 * a / us + b) * u + lam + 0.43);
        if (us >= 0.07 && v <= v_r) return k;
        if (k < 0.0 || (us < 0.013 && v > us)) continue;
        if (log(v) + log(inv_alpha) - log(a / (us * us) + b) <= -lam + k * loglam - lgamma(k + 1.0))
            return k;
    }
}

static double inv_k[INVERSION_KMAX + 1]; /* 1/k, filled at import (no division in the loop) */

/* Smallest k with u < sum_{j<=k} exp(-r) r^j / j! (p = exp(-r)): the inversion loop of
 * poisson_tail, for one element. */
static inline float invert_one(double u, double r, double p) {
    double cdf = p;
    int k = 0;
    while (u >= cdf && k < INVERSION_KMAX) {
        k++;
        p *= r * inv_k[k];
        cdf += p;
        if (p < 1e-18 && k > r) break;
    }
    return (float)k;
}

/* The elements of one block left to CDF inversion by pass 1 of sample_span: their uniform
 * and position. Rates below 1 (counts of 1-3) fill it from the front, rates from 1 to
 * INVERSION_MAX (longer searches) from the back, so that the lanes of one vector search need
 * similar numbers of steps. */
typedef struct {
    double u[BLOCK_SIZE];
    int32_t at[BLOCK_SIZE];
} inversion_lists_t;

/* Pass 2, scalar: counts of the m listed elements. */
static void invert_list_scalar(const double *u, const int32_t *at, Py_ssize_t m,
                               const float *rate, const float *p0, float *out) {
    for (Py_ssize_t j = 0; j < m; j++)
        out[at[j]] = invert_one(u[j], (double)rate[at[j]], (double)p0[at[j]]);
}

#ifdef SUB_SIMD
#include <immintrin.h>
/* Pass 2 on 8 listed elements at a time (AVX-512F): the same double operations as invert_one,
 * in the same order, per lane (lanes still searching advance together; a lane that stops
 * keeps its count), so the counts are the scalar ones bit for bit. The asm barrier keeps
 * each product rounded on its own: a fused multiply-add with the following sum would round
 * once and could move a CDF boundary. No unpredictable exit branch per element. */
__attribute__((target("avx512f"))) static void invert_list_avx512(const double *u,
                                                                 const int32_t *at,
                                                                 Py_ssize_t m,
                                                                 const float *rate,
                                                                 const float *p0, float *out) {
    Py_ssize_t j = 0;
    const __m512d tiny = _mm512_set1_pd(1e-18);
    for (; j + 8 <= m; j += 8) {
        const __m256i idx = _mm256_loadu_si256((const __m256i *)(at + j));
        const __m512d uu = _mm512_loadu_pd(u + j);
        const __m512d rr = _mm512_cvtps_pd(_mm256_i32gather_ps(rate, idx, 4));
        __m512d p = _mm512_cvtps_pd(_mm256_i32gather_ps(p0, idx, 4));
        __m512d cdf = p, kd = _mm512_setzero_pd();
        __mmask8 act = _mm512_cmp_pd_mask(uu, cdf, _CMP_GE_OQ);
        for (int k = 1; act && k <= INVERSION_KMAX; k++) {
            __m512d pn = _mm512_mul_pd(p, _mm512_mul_pd(rr, _mm512_set1_pd(inv_k[k])));
            __asm__("" : "+v"(pn));
            p = _mm512_mask_mov_pd(p, act, pn);
            cdf = _mm512_mask_add_pd(cdf, act, cdf, p);
            const __m512d kk = _mm512_set1_pd((double)k);
            kd = _mm512_mask_mov_pd(kd, act, kk);
            const __mmask8 stop = _mm512_cmp_pd_mask(p, tiny, _CMP_LT_OQ) &
                                  _mm512_cmp_pd_mask(kk, rr, _CMP_GT_OQ);
            act &= (__mmask8)~stop & _mm512_cmp_pd_mask(uu, cdf, _CMP_GE_OQ);
        }
        float counts[8];
        _mm256_storeu_ps(counts, _mm512_cvtpd_ps(kd));
        for (int l = 0; l < 8; l++) out[at[j + l]] = counts[l];
    }
    invert_list_scalar(u + j, at + j, m - j, rate, p0, out);
}
#endif

static int use_vector_inversion = 1; /* set at import from the CPU; tests can switch it off */

/* Counts for n <= BLOCK_SIZE consecutive elements from the generator g, in order, one uniform
 * each (plus PTRS's own draws for rates >= INVERSION_MAX). Returns the number of invalid
 * rates (their counts are NaN); adds the number of nonzero counts to *nnz when nnz is not
 * NULL. Two passes with the result of one element after another: pass 1 draws every element's
 * uniform in order, settles the elements that need further draws (PTRS), none (invalid
 * rates) or whose uniform is below exp(-rate) (count 0), and lists the others; pass 2 inverts
 * the CDF for the listed elements from their stored uniform.
 * Not inlined: sample() and the fused kernels (built for AVX2/AVX-512, where the compiler
 * would fuse multiply-adds and round differently) run this one baseline build, so equal
 * rates give equal counts on both paths. */
static __attribute__((noinline)) Py_ssize_t sample_span(rng_t *g, const float *rate,
                                                        const float *p0, float *out,
                                                        Py_ssize_t n, Py_ssize_t *nnz,
                                                        inversion_lists_t *ws) {
    Py_ssize_t bad = 0, active = 0, low = 0, high = BLOCK_SIZE; /* list: [0, low), [high, end) */
    /* the generator state in a local whose address is never taken: kept in registers (through
     * g, every store to out could alias it and would force a reload) */
    rng_t gl = *g;
    for (Py_ssize_t i = 0; i < n; i++) {
        const float r = rate[i];
        const double ui = rng_uniform(&gl);
        if (r >= 0.0f && r < (float)INVERSION_MAX) { /* listed (branch-free) unless u < p0 */
            const Py_ssize_t hi = r >= 1.0f, take = ui >= (double)p0[i];
            const Py_ssize_t at = hi ? high - 1 : low;
            ws->u[at] = ui;
            ws->at[at] = (int32_t)i;
            low += take & !hi;
            high -= take & hi;
            out[i] = 0.0f;
            continue;
        }
        if (ui < (double)p0[i] && r >= 0.0f) {
            out[i] = 0.0f;
        } else if (!(r >= 0.0f) || isinf(r)) { /* NaN, negative or infinite */
            out[i] = NAN;
            bad++;
        } else {
            *g = gl;
            out[i] = (float)poisson_ptrs(g, (double)r);
            gl = *g;
            active += out[i] != 0.0f;
        }
    }
    *g = gl;
#ifdef SUB_SIMD
    if (use_vector_inversion) {
        invert_list_avx512(ws->u, ws->at, low, rate, p0, out);
        invert_list_avx512(ws->u + high, ws->at + high, BLOCK_SIZE - high, rate, p0, out);
    } else
#endif
    {
        invert_list_scalar(ws->u, ws->at, low, rate, p0, out);
        invert_list_scalar(ws->u + high, ws->at + high, BLOCK_SIZE - high, rate, p0, out);
    }
    /* every listed count is >= 1 */
    if (nnz != NULL) *nnz += active + low + (BLOCK_SIZE - high);
    return bad;
}

/* sample(rate_ptr, p0_ptr, out_ptr, n, seed, block_start, block_stop) -> number of bad rates */
static PyObject *sample(PyObject *self, PyObject *args) {
    unsigned long long rate_addr, p0_addr, out_addr, seed;
    Py_ssize_t n, block_start, block_stop;
    if (!PyArg_ParseTuple(args, "KKKnKnn", &rate_addr, &p0_addr, &out_addr, &n, &seed,
                          &block_start, &block_stop))
        return NULL;
    const float *rate = (const float *)(uintptr_t)rate_addr;
    const float *p0 = (const float *)(uintptr_t)p0_addr;
    float *out = (float *)(uintptr_t)out_addr;
    Py_ssize_t bad = 0;
    inversion_lists_t *ws = (inversion_lists_t *)PyMem_RawMalloc(sizeof(inversion_lists_t));
    if (ws == NULL) return PyErr_NoMemory();
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t blk = block_start; blk < block_stop; blk++) {
        rng_t g;
        rng_seed(&g, (uint64_t)seed, (uint64_t)blk);
        Py_ssize_t lo = blk * BLOCK_SIZE, hi = lo + BLOCK_SIZE < n ? lo + BLOCK_SIZE : n;
        bad += sample_span(&g, rate + lo, p0 + lo, out + lo, hi - lo, NULL, ws);
    }
    Py_END_ALLOW_THREADS
    PyMem_RawFree(ws);
    return PyLong_FromSsize_t(bad);
}

/*
 * Sparse row products for exact inference (neurofond.fond.sparse).
 *
 * out[b, :] = base[b, :] - sum_{k : z[b, k] != 0} z[b, k] * M[k, :]   for rows b in [r0, r1)
 *
 * z is (B x K), M (K x N), base and out (B x N), all C-contiguous float32. Only the nonzero
 * entries of each row of z are visited (a branch-free scan lists them first), so a spiking
 * population with a fraction f of active neurons costs f K N multiply-adds per row instead of
 * K N. The sum over k runs in ascending k, one accumulator per output column; a row's result
 * does not depend on how rows are split across threads. On x86-64 with GCC the function is
 * built three times, chosen at run time: AVX-512 and AVX2 (both with fused multiply-adds,
 * which give the same bits) and baseline SSE2 (separate multiply and add): like BLAS, bits
 * can differ between machines, never between runs on one machine.
 */
typedef float vec8 __attribute__((vector_size(32)));  /* GCC/clang vector extensions */
typedef float vec16 __attribute__((vector_size(64)));


/* unaligned loads (macros: no vector-typed function returns outside AVX builds) */
#define load8(p) __extension__({ vec8 v_; memcpy(&v_, (p), sizeof v_); v_; })
#define load16(p) __extension__({ vec16 v_; memcpy(&v_, (p), sizeof v_); v_; })

/* One tile of 8 vectors of type V (8 x W output columns) held in registers over all the
 * nonzeros of the row; then out = base - acc. */
#define SUB_TILE(V, W, LOAD)                                                                   \
    for (; j0 + 8 * (W) <= N; j0 += 8 * (W)) {                                                 \
        V a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, a6 = {0}, a7 = {0};      \
        for (Py_ssize_t i = 0; i < n; i++) {                                                   \
            const V zk = (V){0} + val[i];                                                      \
            const float *mr = m + (Py_ssize_t)idx[i] * N + j0;                                 \
            a0 += zk * LOAD(mr);                                                               \
            a1 += zk * LOAD(mr + (W));                                                         \
            a2 += zk * LOAD(mr + 2 * (W));                                                     \
            a3 += zk * LOAD(mr + 3 * (W));                                                     \
            a4 += zk * LOAD(mr + 4 * (W));                                                     \
            a5 += zk * LOAD(mr + 5 * (W));                                                     \
            a6 += zk * LOAD(mr + 6 * (W));                                                     \
            a7 += zk * LOAD(mr + 7 * (W));                                                     \
        }                                                                                      \
        V acc[8] = {a0, a1, a2, a3, a4, a5, a6, a7};                                           \
        const float *accf = (const float *)acc;                                                \
        for (int j = 0; j < 8 * (W); j++) o[j0 + j] = xr[j0 + j] - accf[j];                   \
    }

/* wide: also use 128-column tiles of 16-float vectors (AVX-512 build only) */
static inline __attribute__((always_inline)) Py_ssize_t
sub_rows_body(const float *z, const float *m, const float *base, float *out, Py_ssize_t K,
              Py_ssize_t N, Py_ssize_t r0, Py_ssize_t r1, int32_t *idx, float *val,
              const int wide) {
    Py_ssize_t nnz = 0;
    for (Py_ssize_t b = r0; b < r1; b++) {
        const float *zr = z + b * K;
        Py_ssize_t n = 0;
        for (Py_ssize_t k = 0; k < K; k++) { /* branch-free listing of the nonzeros */
            idx[n] = (int32_t)k;
            val[n] = zr[k];
            n += (zr[k] != 0.0f);
        }
        nnz += n;
        const float *xr = base + b * N;
        float *o = out + b * N;
        Py_ssize_t j0 = 0;
        if (wide) {
            SUB_TILE(vec16, 16, load16)
        }
        SUB_TILE(vec8, 8, load8)
        for (Py_ssize_t j = j0; j < N; j++) { /* columns left over after the tiles */
            float acc = 0.0f;
            for (Py_ssize_t i = 0; i < n; i++) acc += val[i] * m[(Py_ssize_t)idx[i] * N + j];
            o[j] = xr[j] - acc;
        }
    }
    return nnz;
}

#define SUB_ARGS                                                                            \
    const float *z, const float *m, const float *base, float *out, Py_ssize_t K, Py_ssize_t N, \
        Py_ssize_t r0, Py_ssize_t r1, int32_t *idx, float *val
#define SUB_CALL z, m, base, out, K, N, r0, r1, idx, val
static Py_ssize_t sub_rows_plain(SUB_ARGS) { return sub_rows_body(SUB_CALL, 0); }
#ifdef SUB_SIMD
__attribute__((target("avx2,fma"))) static Py_ssize_t sub_rows_avx2(SUB_ARGS) {
    return sub_rows_body(SUB_CALL, 0);
}
__attribute__((target("avx512f,avx2,fma"))) static Py_ssize_t sub_rows_avx512(SUB_ARGS) {
    return sub_rows_body(SUB_CALL, 1);
}
#endif
static Py_ssize_t sub_rows(SUB_ARGS) {
#ifdef SUB_SIMD
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"))
        return sub_rows_avx512(SUB_CALL);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return sub_rows_avx2(SUB_CALL);
#endif
    return sub_rows_plain(SUB_CALL);
}

/* subtract_rows(z_ptr, m_ptr, base_ptr, out_ptr, K, N, row_start, row_stop) -> nonzeros seen */
static PyObject *subtract_rows(PyObject *self, PyObject *args) {
    unsigned long long z_addr, m_addr, base_addr, out_addr;
    Py_ssize_t K, N, r0, r1;
    if (!PyArg_ParseTuple(args, "KKKKnnnn", &z_addr, &m_addr, &base_addr, &out_addr, &K, &N,
                          &r0, &r1))
        return NULL;
    if (K < 0 || N < 0 || r0 < 0 || r1 < r0 || K > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "subtract_rows: invalid sizes");
        return NULL;
    }
    size_t cap = (size_t)(K > 0 ? K : 1);
    int32_t *idx = (int32_t *)PyMem_RawMalloc(cap * sizeof(int32_t));
    float *val = (float *)PyMem_RawMalloc(cap * sizeof(float));
    if (idx == NULL || val == NULL) {
        PyMem_RawFree(idx);
        PyMem_RawFree(val);
        return PyErr_NoMemory();
    }
    Py_ssize_t nnz;
    Py_BEGIN_ALLOW_THREADS
    nnz = sub_rows((const float *)(uintptr_t)z_addr, (const float *)(uintptr_t)m_addr,
                   (const float *)(uintptr_t)base_addr, (float *)(uintptr_t)out_addr, K, N, r0,
                   r1, idx, val);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(idx);
    PyMem_RawFree(val);
    return PyLong_FromSsize_t(nnz);
}

/*
 * Fused iP-VAE evaluation step: membrane-potential update, rates and spike counts in one pass
 * (neurofond.fond.sparse.FusedExactInference).
 *
 * Per element (b, k) of the drive D = Phi^T (x - Phi z) / sigma_x^2 (or f - z G):
 *   du  = max(c - softplus(c - eta (D - bias_k)), floor)
 *   u'  = max(c - softplus(c - (u + du)), floor)
 *   r   = exp(u'),  p0 = exp(-r),  z' ~ Poisson(r)
 * i.e. IterativeVAE.update of an iP-VAE followed by the compiled sampler, without the
 * intermediate arrays (eleven elementwise passes over B x K floats in torch, plus two for the
 * rates and exp(-rate)). The elementwise part runs on 16-float vectors with this file's own
 * exp and log1p: exp by range reduction x = n ln2 + r (|r| <= ln2 / 2) and the degree-7
 * Taylor polynomial of exp(r) (truncation < 6e-9 relative), scaled by 2^n through the
 * exponent bits; log1p(e) for e in [0, 1] as log(1 + e) e / ((1 + e) - 1) (exact
 * cancellation of the rounding of 1 + e, D. Goldberg 1991) with log(m), m in
 * [sqrt(2)/2, sqrt(2)], from the atanh series 2 (s + s^3/3 + ... + s^9/9), s = (m-1)/(m+1);
 * softplus(y) = max(y, 0) + log1p(exp(-|y|)). Both agree with libm to a few float32 ulp,
 * not bit for bit with torch's (SLEEF) functions: u' agrees with the torch update to ~1e-6.
 *
 * Spikes: the same blocks, seeds and per-element uniforms as sample() (sample_span), so
 * for equal rates the counts are equal; the rates here differ from torch's in the last bits,
 * so a count can differ where a uniform falls within that rounding of a CDF boundary.
 * NaN in the drive or in u gives a NaN rate and count and is counted as bad.
 */
typedef int32_t vec16i __attribute__((vector_size(64)));
#define AI static inline __attribute__((always_inline))

AI vec16 v_select(vec16i mask, vec16 a, vec16 b) {
    return (vec16)((mask & (vec16i)a) | (~mask & (vec16i)b));
}

AI vec16 v_max(vec16 a, vec16 b) { return v_select(a > b, a, b); }

/* exp(x), x clamped to [-86, 88] (normal results only) */
AI vec16 v_exp(vec16 x) {
    x = v_select(x < -86.0f, (vec16){0} - 86.0f, x);
    x = v_select(x > 88.0f, (vec16){0} + 88.0f, x);
    const vec16 t = x * 1.44269504088896341f + 12582912.0f; /* round(x / ln2) in the mantissa */
    const vec16 n = t - 12582912.0f;
    const vec16i ni = (vec16i)t - 0x4B400000;
    vec16 r = x - n * 0.693359375f; /* ln2 split: exact product with the high part */
    r = r + n * 2.12194440054690583e-4f;
    vec16 p = r * (1.0f / 5040.0f) + (1.0f / 720.0f);
    p = p * r + (1.0f / 120.0f);
    p = p * r + (1.0f / 24.0f);
    p = p * r + (1.0f / 6.0f);
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    return (vec16)((vec16i)p + (ni << 23));
}

/* log(1 + e) for e in [0, 1]: 1 + e = 2^k m with m in [sqrt(2)/2, sqrt(2)], f = m - 1 (exact),
 * log(1 + f) = f - f^2/2 + f^3 P(f) with P the degree-8 minimax polynomial of the Cephes
 * library's logf (S. Moshier); ~1 ulp for log(m). The rounding of 1 + e costs up to 2^-24 of
 * absolute error, which is all softplus (an absolute quantity added to max(y, 0)) needs. */
AI vec16 v_log1p_unit(vec16 e) {
    const vec16 a = e + 1.0f;
    const vec16i big = a > 1.41421356237309505f;
    const vec16 f = v_select(big, a * 0.5f, a) - 1.0f;
    const vec16 k = v_select(big, (vec16){0} + 0.693147180559945309f, (vec16){0});
    vec16 p = f * 7.0376836292e-2f - 1.1514610310e-1f;
    p = p * f + 1.1676998740e-1f;
    p = p * f - 1.2420140846e-1f;
    p = p * f + 1.4249322787e-1f;
    p = p * f - 1.6668057665e-1f;
    p = p * f + 2.0000714765e-1f;
    p = p * f - 2.4999993993e-1f;
    p = p * f + 3.3333331174e-1f;
    const vec16 f2 = f * f;
    return k + (f + (f2 * f * p - 0.5f * f2));
}

AI vec16 v_softplus(vec16 y) {
    const vec16 neg_abs = v_select(y < 0.0f, y, -y);
    return v_max(y, (vec16){0}) + v_log1p_unit(v_exp(neg_abs));
}

AI int v_full(Py_ssize_t j, Py_ssize_t n) { return j + 16 <= n; }

/* elements j..j+15 of x (zeros past n) */
AI vec16 v_load_tail(const float *x, Py_ssize_t j, Py_ssize_t n) {
    if (v_full(j, n)) return load16(x + j);
    vec16 v = {0};
    for (int l = 0; j + l < n; l++) v[l] = x[j + l];
    return v;
}

AI void v_store_tail(float *x, vec16 v, Py_ssize_t j, Py_ssize_t n) {
    if (v_full(j, n)) {
        memcpy(x + j, &v, sizeof v);
    } else {
        for (int l = 0; j + l < n; l++) x[j + l] = v[l];
    }
}

/* v where x is a number, NaN where x is NaN. One ordered compare per select: GCC splits
 * x != x, integer compares of the bits and selects on combined masks into scalar code. */
AI vec16 v_nan_where_nan(vec16 x, vec16 v) { return v_select(x >= -INFINITY, v, x); }

/* u_out, rate, p0 for n <= BLOCK_SIZE consecutive elements starting at flat index i0 (row
 * length K). Stage by stage over the block: each stage's iterations are independent, so the
 * processor overlaps several vectors' dependency chains (one element's whole chain, ~200
 * dependent operations, would leave the vector units idle most of the time). */
AI void update_span(const float *drive, const float *u_in, const float *bias, float *u_out,
                    float *rate, float *p0, Py_ssize_t n, Py_ssize_t i0, Py_ssize_t K,
                    float eta, float c, float floor_) {
    float y[BLOCK_SIZE] __attribute__((aligned(64)));
    float w[BLOCK_SIZE] __attribute__((aligned(64)));
    const vec16 vfloor = (vec16){0} + floor_;
    Py_ssize_t col = i0 % K; /* column of element j (no division in the loop) */
    for (Py_ssize_t j = 0; j < n; j += 16) { /* y = c - eta (drive - bias) */
        vec16 bv;
        if (col + 16 <= K) {
            bv = load16(bias + col);
        } else { /* a row boundary inside this vector */
            Py_ssize_t cl = col;
            for (int l = 0; l < 16; l++) {
                bv[l] = bias[cl];
                if (++cl == K) cl = 0;
            }
        }
        col += 16;
        while (col >= K) col -= K;
        const vec16 v = c - eta * (v_load_tail(drive, j, n) - bv);
        memcpy(y + j, &v, sizeof v);
    }
    for (Py_ssize_t j = 0; j < n; j += 16) { /* du, then y = c - (u + du) */
        const vec16 du = v_max(c - v_softplus(load16(y + j)), vfloor);
        const vec16 v = c - (du + v_load_tail(u_in, j, n));
        memcpy(y + j, &v, sizeof v);
    }
    for (Py_ssize_t j = 0; j < n; j += 16) { /* u' */
        const vec16 v = v_max(c - v_softplus(load16(y + j)), vfloor);
        memcpy(w + j, &v, sizeof v);
    }
    for (Py_ssize_t j = 0; j < n; j += 16) { /* rate, p0; NaN inputs give NaN */
        const vec16 un = v_nan_where_nan(v_load_tail(u_in, j, n),
                                         v_nan_where_nan(v_load_tail(drive, j, n), load16(w + j)));
        const vec16 rt = v_nan_where_nan(un, v_exp(un));
        v_store_tail(u_out, un, j, n);
        v_store_tail(rate, rt, j, n);
        v_store_tail(p0, v_exp(-rt), j, n);
    }
}

#define UPD_ARGS                                                                            \
    const float *drive, const float *u_in, const float *bias, float *u_out, float *rate,      \
        float *z, Py_ssize_t n, Py_ssize_t K, float eta, float c, float floor_, uint64_t seed, \
        Py_ssize_t b0, Py_ssize_t b1, Py_ssize_t *nnz, inversion_lists_t *ws
#define UPD_CALL drive, u_in, bias, u_out, rate, z, n, K, eta, c, floor_, seed, b0, b1, nnz, ws

AI Py_ssize_t update_sample_body(UPD_ARGS) {
    float p0[BLOCK_SIZE];
    Py_ssize_t bad = 0;
    for (Py_ssize_t blk = b0; blk < b1; blk++) {
        Py_ssize_t lo = blk * BLOCK_SIZE, hi = lo + BLOCK_SIZE < n ? lo + BLOCK_SIZE : n;
        update_span(drive + lo, u_in + lo, bias, u_out + lo, rate + lo, p0, hi - lo, lo, K, eta,
                    c, floor_);
        rng_t g;
        rng_seed(&g, seed, (uint64_t)blk);
        bad += sample_span(&g, rate + lo, p0, z + lo, hi - lo, nnz, ws);
    }
    return bad;
}

static Py_ssize_t update_sample_plain(UPD_ARGS) { return update_sample_body(UPD_CALL); }
#ifdef SUB_SIMD
__attribute__((target("avx2,fma"))) static Py_ssize_t update_sample_avx2(UPD_ARGS) {
    return update_sample_body(UPD_CALL);
}
__attribute__((target("avx512f,avx2,fma"))) static Py_ssize_t update_sample_avx512(UPD_ARGS) {
    return update_sample_body(UPD_CALL);
}
#endif
static Py_ssize_t update_sample_any(UPD_ARGS) { /* the widest build this CPU runs */
#ifdef SUB_SIMD
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"))
        return update_sample_avx512(UPD_CALL);
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return update_sample_avx2(UPD_CALL);
#endif
    return update_sample_plain(UPD_CALL);
}

/* update_sample(drive, u, bias, u_out, rate_out, z_out, n, K, eta, c, floor, seed,
 *               block_start, block_stop) -> (nonzero counts, invalid elements) */
static PyObject *update_sample(PyObject *self, PyObject *args) {
    unsigned long long a_drive, a_u, a_bias, a_uo, a_rate, a_z, seed;
    Py_ssize_t n, K, b0, b1;
    double eta, c, floor_;
    if (!PyArg_ParseTuple(args, "KKKKKKnndddKnn", &a_drive, &a_u, &a_bias, &a_uo, &a_rate, &a_z,
                          &n, &K, &eta, &c, &floor_, &seed, &b0, &b1))
        return NULL;
    if (n < 0 || K <= 0 || b0 < 0 || b1 < b0 || b1 * (Py_ssize_t)BLOCK_SIZE - n >= BLOCK_SIZE) {
        PyErr_SetString(PyExc_ValueError, "update_sample: invalid sizes");
        return NULL;
    }
    Py_ssize_t bad, nnz = 0;
    const float *drive = (const float *)(uintptr_t)a_drive, *u_in = (const float *)(uintptr_t)a_u;
    const float *bias = (const float *)(uintptr_t)a_bias;
    float *u_out = (float *)(uintptr_t)a_uo, *rate = (float *)(uintptr_t)a_rate;
    float *z = (float *)(uintptr_t)a_z;
    inversion_lists_t *ws = (inversion_lists_t *)PyMem_RawMalloc(sizeof(inversion_lists_t));
    if (ws == NULL) return PyErr_NoMemory();
    Py_BEGIN_ALLOW_THREADS
    bad = update_sample_any(drive, u_in, bias, u_out, rate, z, n, K, (float)eta, (float)c,
                            (float)floor_, (uint64_t)seed, b0, b1, &nnz, ws);
    Py_END_ALLOW_THREADS
    PyMem_RawFree(ws);
    return Py_BuildValue("nn", nnz, bad);
}

/* _set_vector_inversion(flag) -> previous flag (tests: the scalar and vector pass 2 agree) */
static PyObject *set_vector_inversion(PyObject *self, PyObject *args) {
    int flag;
    if (!PyArg_ParseTuple(args, "p", &flag)) return NULL;
    int previous = use_vector_inversion;
#ifdef SUB_SIMD
    use_vector_inversion = flag && __builtin_cpu_supports("avx512f");
#else
    use_vector_inversion = 0;
#endif
    return PyBool_FromLong(previous);
}

static PyMethodDef methods[] = {
    {"_set_vector_inversion", set_vector_inversion, METH_VARARGS,
     "_set_vector_inversion(flag) -> bool\n\nUse the AVX-512 CDF inversion where the CPU has it "
     "(the counts are the same either way); returns the previous setting."},
    {"subtract_rows", subtract_rows, METH_VARARGS,
     "subtract_rows(z_ptr, m_ptr, base_ptr, out_ptr, K, N, row_start, row_stop) -> int\n\n"
     "out[b] = base[b] - sum over nonzero z[b, k] of z[b, k] * m[k] (float32, raw addresses);\n"
     "returns the number of nonzero entries of z visited."},
    {"update_sample", update_sample, METH_VARARGS,
     "update_sample(drive, u, bias, u_out, rate_out, z_out, n, K, eta, c, floor, seed,\n"
     "              block_start, block_stop) -> (nonzero counts, invalid elements)\n\n"
     "Fused iP-VAE potential update and Poisson spikes (float32 arrays at raw addresses)."},
    {"sample", sample, METH_VARARGS,
     "sample(rate_ptr, p0_ptr, out_ptr, n, seed, block_start, block_stop) -> int\n\n"
     "Poisson counts for float32 arrays at raw addresses; returns the number of invalid rates."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_spikes", NULL, -1, methods};

PyMODINIT_FUNC PyInit__spikes(void) {
    for (int k = 1; k <= INVERSION_KMAX; k++) inv_k[k] = 1.0 / k;
#ifdef SUB_SIMD
    use_vector_inversion = __builtin_cpu_supports("avx512f");
#else
    use_vector_inversion = 0;
#endif
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddIntConstant(m, "BLOCK_SIZE", BLOCK_SIZE) < 0 ||
        PyModule_AddObject(m, "INVERSION_MAX", PyFloat_FromDouble(INVERSION_MAX)) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
