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

/* Count for a valid rate (finite, >= 0) that failed the zero test u < p0. */
static float poisson_tail(rng_t *g, double u, float rate, float p0) {
    double r = (double)rate;
    if (r >= INVERSION_MAX) return (float)poisson_ptrs(g, r);
    double p = (double)p0, cdf = p;
    int k = 0;
    while (u >= cdf && k < INVERSION_KMAX) {
        k++;
        p *= r * inv_k[k];
        cdf += p;
        /* past the mode with negligible terms: the CDF can no longer move (rounding may
         * leave it just below a uniform within 1e-16 of 1) */
        if (p < 1e-18 && k > r) break;
    }
    return (float)k;
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
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t blk = block_start; blk < block_stop; blk++) {
        rng_t g;
        rng_seed(&g, (uint64_t)seed, (uint64_t)blk);
        Py_ssize_t lo = blk * BLOCK_SIZE, hi = lo + BLOCK_SIZE < n ? lo + BLOCK_SIZE : n;
        for (Py_ssize_t i = lo; i < hi; i++) {
            float r = rate[i];
            double u = rng_uniform(&g);
            if (u < (double)p0[i] && r >= 0.0f) { /* silent: the common case */
                out[i] = 0.0f;
            } else if (!(r >= 0.0f) || isinf(r)) { /* NaN, negative or infinite */
                out[i] = NAN;
                bad++;
            } else {
                out[i] = poisson_tail(&g, u, r, p0[i]);
            }
        }
    }
    Py_END_ALLOW_THREADS
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

#if defined(__GNUC__) && defined(__x86_64__)
#define SUB_SIMD 1 /* AVX2+FMA and AVX-512 builds of sub_rows, chosen at run time */
#endif

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

static PyMethodDef methods[] = {
    {"subtract_rows", subtract_rows, METH_VARARGS,
     "subtract_rows(z_ptr, m_ptr, base_ptr, out_ptr, K, N, row_start, row_stop) -> int\n\n"
     "out[b] = base[b] - sum over nonzero z[b, k] of z[b, k] * m[k] (float32, raw addresses);\n"
     "returns the number of nonzero entries of z visited."},
    {"sample", sample, METH_VARARGS,
     "sample(rate_ptr, p0_ptr, out_ptr, n, seed, block_start, block_stop) -> int\n\n"
     "Poisson counts for float32 arrays at raw addresses; returns the number of invalid rates."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_spikes", NULL, -1, methods};

PyMODINIT_FUNC PyInit__spikes(void) {
    for (int k = 1; k <= INVERSION_KMAX; k++) inv_k[k] = 1.0 / k;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddIntConstant(m, "BLOCK_SIZE", BLOCK_SIZE) < 0 ||
        PyModule_AddObject(m, "INVERSION_MAX", PyFloat_FromDouble(INVERSION_MAX)) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
