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
 * independent, so any split of blocks across threads gives the same counts; on CPUs with
 * AVX-512F/DQ/VL eight blocks' generators advance side by side in vector lanes
 * (draw_uniforms8), which gives every element the same uniform and so the same count.
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

/* A block's stream of uniforms: first the len uniforms pre-drawn into buf (by the vector
 * generator; none for the scalar path), then the generator g, which stands where they end. */
typedef struct {
    const double *buf;
    Py_ssize_t pos, len;
    rng_t g;
} ustream_t;

static inline double us_uniform(ustream_t *s) {
    return s->pos < s->len ? s->buf[s->pos++] : rng_uniform(&s->g);
}

static __attribute__((noinline)) double poisson_ptrs(ustream_t *g, double lam) {
    double slam = sqrt(lam);
    double b = 0.931 + 2.53 * slam;
    double a = -0.059 + 0.02483 * b;
    double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    double v_r = 0.9277 - 3.6224 / (b - 2.0);
    for (;;) {
        double u = us_uniform(g) - 0.5;
        double v = us_uniform(g);
        double us = 0.5 - fabs(u);
        double k = floor((2.0 * a / us + b) * u + lam + 0.43);
        if (us >= 0.07 && v <= v_r) return k;
        if (k < 0.0 || (us < 0.013 && v > us)) continue;
        /* (the logs here only: most draws are accepted by the squeeze above) */
        if (log(v) + log(inv_alpha) - log(a / (us * us) + b) <=
            -lam + k * log(lam) - lgamma(k + 1.0))
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

/* Pass 2, scalar: counts of the m listed elements at positions at[j], with uniform u[j]
 * (by_position 0: pass 1 listed the uniforms) or u[at[j]] (by_position 1: stored by
 * position). Not inlined: the vector paths call it for their last elements, and inlined into
 * an AVX-512 function its products could be fused into the sums (other rounding). */
static __attribute__((noinline)) void invert_list_scalar(const double *u, const int32_t *at,
                                                         Py_ssize_t m, int by_position,
                                                         const float *rate, const float *p0,
                                                         float *out) {
    for (Py_ssize_t j = 0; j < m; j++)
        out[at[j]] = invert_one(u[by_position ? at[j] : j], (double)rate[at[j]],
                                (double)p0[at[j]]);
}

#ifdef SUB_SIMD
#include <immintrin.h>
/* Pass 2 on 8 listed elements at a time (AVX-512F): the same double operations as invert_one,
 * in the same order, per lane (lanes still searching advance together; a lane that stops
 * keeps its count), so the counts are the scalar ones bit for bit. The asm barrier keeps
 * each product rounded on its own: a fused multiply-add with the following sum would round
 * once and could move a CDF boundary. No unpredictable exit branch per element. */
/* Counts of G groups of eight elements (uniforms uu, rates rr, exp(-rate) p), written to kd.
 * The groups' searches are independent and advance together: one group's search is a chain
 * of dependent multiplies, adds and compares that would leave the vector units idle. */
#define INVERT_GROUPS 4
static inline __attribute__((target("avx512f"), always_inline)) void invert8x(
    const int G, const __m512d *uu, const __m512d *rr, const __m512d *p0v, __m512d *kd) {
    const __m512d tiny = _mm512_set1_pd(1e-18);
    __m512d p[INVERT_GROUPS], cdf[INVERT_GROUPS];
    __mmask8 act[INVERT_GROUPS];
    unsigned any = 0;
#pragma GCC unroll 4
    for (int g = 0; g < G; g++) {
        p[g] = cdf[g] = p0v[g];
        kd[g] = _mm512_setzero_pd();
        act[g] = _mm512_cmp_pd_mask(uu[g], cdf[g], _CMP_GE_OQ);
        any |= act[g];
    }
    for (int k = 1; any && k <= INVERSION_KMAX; k++) {
        const __m512d kk = _mm512_set1_pd((double)k), ik = _mm512_set1_pd(inv_k[k]);
        any = 0;
#pragma GCC unroll 4
        for (int g = 0; g < G; g++) {
            __m512d pn = _mm512_mul_pd(p[g], _mm512_mul_pd(rr[g], ik));
            __asm__("" : "+v"(pn));
            p[g] = _mm512_mask_mov_pd(p[g], act[g], pn);
            cdf[g] = _mm512_mask_add_pd(cdf[g], act[g], cdf[g], p[g]);
            kd[g] = _mm512_mask_mov_pd(kd[g], act[g], kk);
            const __mmask8 stop = _mm512_cmp_pd_mask(p[g], tiny, _CMP_LT_OQ) &
                                  _mm512_cmp_pd_mask(kk, rr[g], _CMP_GT_OQ);
            act[g] &= (__mmask8)~stop & _mm512_cmp_pd_mask(uu[g], cdf[g], _CMP_GE_OQ);
            any |= act[g];
        }
    }
}

/* out[at[j + l]] = counts[l], l < 8 */
static inline __attribute__((target("avx512f"), always_inline)) void scatter8(
    float *out, const int32_t *at, __m512d kd) {
    float counts[8];
    _mm256_storeu_ps(counts, _mm512_cvtpd_ps(kd));
    for (int l = 0; l < 8; l++) out[at[l]] = counts[l];
}

/* Pass 2 on listed elements j, j + 1, ... in groups of 8 G while m allows; the next j. */
static inline __attribute__((target("avx512f"), always_inline)) Py_ssize_t invert_groups(
    const int G, Py_ssize_t j, const double *u, const int32_t *at, Py_ssize_t m, int by_position,
    const float *rate, const float *p0, float *out) {
    for (; j + 8 * G <= m; j += 8 * G) {
        __m512d uu[INVERT_GROUPS], rr[INVERT_GROUPS], p[INVERT_GROUPS], kd[INVERT_GROUPS];
        for (int g = 0; g < G; g++) {
            const __m256i idx = _mm256_loadu_si256((const __m256i *)(at + j + 8 * g));
            rr[g] = _mm512_cvtps_pd(_mm256_i32gather_ps(rate, idx, 4));
            p[g] = _mm512_cvtps_pd(_mm256_i32gather_ps(p0, idx, 4));
            uu[g] = by_position ? _mm512_i32gather_pd(idx, u, 8) : _mm512_loadu_pd(u + j + 8 * g);
        }
        invert8x(G, uu, rr, p, kd);
        for (int g = 0; g < G; g++) scatter8(out, at + j + 8 * g, kd[g]);
    }
    return j;
}

/* Pass 2 on 8 * INVERT_GROUPS listed elements at a time, then 8, then one by one
 * (invert_list_scalar's arguments). */
__attribute__((target("avx512f"))) static void invert_list_avx512(const double *u,
                                                                 const int32_t *at,
                                                                 Py_ssize_t m, int by_position,
                                                                 const float *rate,
                                                                 const float *p0, float *out) {
    Py_ssize_t j = invert_groups(INVERT_GROUPS, 0, u, at, m, by_position, rate, p0, out);
    j = invert_groups(1, j, u, at, m, by_position, rate, p0, out);
    invert_list_scalar(by_position ? u : u + j, at + j, m - j, by_position, rate, p0, out);
}
#endif

static int use_vector_inversion = 1; /* set at import from the CPU; tests can switch it off */

/* The count of an element that pass 1 does not list (rate >= INVERSION_MAX, NaN, negative or
 * infinite) whose uniform is ui: 0 when ui < exp(-r), else PTRS drawing from s; NaN (counted
 * in *bad) for an invalid rate; nonzero counts are added to *active. */
static inline float settle_unlisted(float r, double ui, float p0, ustream_t *s, Py_ssize_t *bad,
                                    Py_ssize_t *active) {
    if (ui < (double)p0 && r >= 0.0f) return 0.0f;
    if (!(r >= 0.0f) || isinf(r)) { /* NaN, negative or infinite */
        ++*bad;
        return NAN;
    }
    const float k = (float)poisson_ptrs(s, (double)r);
    *active += k != 0.0f;
    return k;
}

/* Pass 2 over one list (invert_list_scalar's arguments), in AVX-512 lanes where enabled. */
static void invert_list(const double *u, const int32_t *at, Py_ssize_t m, int by_position,
                        const float *rate, const float *p0, float *out) {
#ifdef SUB_SIMD
    if (use_vector_inversion) {
        invert_list_avx512(u, at, m, by_position, rate, p0, out);
        return;
    }
#endif
    invert_list_scalar(u, at, m, by_position, rate, p0, out);
}

/* Pass 2 over both lists of pass 1: [0, low) and [high, BLOCK_SIZE). */
static void invert_lists(const inversion_lists_t *ws, Py_ssize_t low, Py_ssize_t high,
                         const float *rate, const float *p0, float *out) {
    invert_list(ws->u, ws->at, low, 0, rate, p0, out);
    invert_list(ws->u + high, ws->at + high, BLOCK_SIZE - high, 0, rate, p0, out);
}

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
        ustream_t st = {NULL, 0, 0, gl};
        out[i] = settle_unlisted(r, ui, p0[i], &st, &bad, &active);
        gl = st.g;
    }
    *g = gl;
    invert_lists(ws, low, high, rate, p0, out);
    /* every listed count is >= 1 */
    if (nnz != NULL) *nnz += active + low + (BLOCK_SIZE - high);
    return bad;
}

/*
 * The same uniforms, drawn eight blocks at a time (AVX-512F/DQ/VL). Drawing is the sequential
 * part of sample_span: each xoshiro256** step depends on the previous one. Blocks have
 * independent generators, so eight blocks' generators advance side by side in the eight 64-bit
 * lanes of a vector (the same integer operations: x * 5 and x * 9 as shift-and-add, the same
 * rotations), each lane's uniforms are stored in its block's row of a buffer (an 8 x 8
 * transpose per eight steps), and pass 1 then reads a block's uniforms in order from its row:
 * one per element, PTRS's extra draws taking the following ones (and the lane's generator,
 * saved where the row ends, past UNIFORMS_AHEAD). So every element gets the uniform it gets
 * from sample_span and the counts are the same, bit for bit; pass 1 itself runs eight
 * elements at a time (compare, store the uniforms by position, compress the listed
 * positions) over runs of elements with rates in [0, INVERSION_MAX).
 */
#define UNIFORMS_AHEAD (BLOCK_SIZE + 512) /* a multiple of 8; PTRS draws ~2.3 per element */

/* Pass 1's lists of the drawn path: each element's uniform (read for the listed ones) and
 * the listed positions, rates below 1 in at[0], from 1 in at[1] (16 slack entries: eight are
 * stored at a time). */
typedef struct {
    double u[BLOCK_SIZE];
    int32_t at[2][BLOCK_SIZE + 16];
} drawn_lists_t;

typedef struct {
    inversion_lists_t lists;
    drawn_lists_t drawn;
    double u[8][UNIFORMS_AHEAD];
    float p0[8][BLOCK_SIZE]; /* exp(-rate) of the fused kernel's blocks */
} group_ws_t;

static int use_vector_generator = 0; /* set at import from the CPU; tests can switch it off */

/* whether this CPU runs draw_uniforms8 and sample_span_drawn */
static int cpu_draws_in_lanes(void) {
#ifdef SUB_SIMD
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

#ifdef SUB_SIMD
#define VGEN __attribute__((target("avx512f,avx512dq,avx512vl"), noinline))

/* Row l of u: the first UNIFORMS_AHEAD uniforms of block blk0 + l (l < nb; other lanes repeat
 * block blk0 and are not used); after[l]: that block's generator after them. */
VGEN static void draw_uniforms8(uint64_t seed, Py_ssize_t blk0, int nb,
                                double (*u)[UNIFORMS_AHEAD], rng_t *after) {
    uint64_t st[4][8];
    for (int l = 0; l < 8; l++) {
        rng_t g;
        rng_seed(&g, seed, (uint64_t)(blk0 + (l < nb ? l : 0)));
        for (int w = 0; w < 4; w++) st[w][l] = g.s[w];
    }
    __m512i s0 = _mm512_loadu_si512(st[0]), s1 = _mm512_loadu_si512(st[1]);
    __m512i s2 = _mm512_loadu_si512(st[2]), s3 = _mm512_loadu_si512(st[3]);
    const __m512d scale = _mm512_set1_pd(0x1.0p-53);
    for (Py_ssize_t i = 0; i < UNIFORMS_AHEAD; i += 8) {
        __m512d r[8], a[8], b[8];
        for (int j = 0; j < 8; j++) { /* rng_next in every lane */
            __m512i x = _mm512_add_epi64(_mm512_slli_epi64(s1, 2), s1); /* s1 * 5 */
            x = _mm512_rol_epi64(x, 7);
            x = _mm512_add_epi64(_mm512_slli_epi64(x, 3), x); /* * 9 */
            const __m512i t = _mm512_slli_epi64(s1, 17);
            s2 = _mm512_xor_si512(s2, s0);
            s3 = _mm512_xor_si512(s3, s1);
            s1 = _mm512_xor_si512(s1, s2);
            s0 = _mm512_xor_si512(s0, s3);
            s2 = _mm512_xor_si512(s2, t);
            s3 = _mm512_rol_epi64(s3, 45);
            r[j] = _mm512_mul_pd(_mm512_cvtepu64_pd(_mm512_srli_epi64(x, 11)), scale);
        }
        /* transpose: r[j][l] (step j, block l) -> row l, column j */
        for (int j = 0; j < 8; j += 2) {
            a[j] = _mm512_unpacklo_pd(r[j], r[j + 1]);     /* 128-bit chunk c: steps j, j+1 of block 2c */
            a[j + 1] = _mm512_unpackhi_pd(r[j], r[j + 1]); /* ... of block 2c + 1 */
        }
        for (int h = 0; h < 2; h++) { /* h: even / odd blocks */
            b[4 * h + 0] = _mm512_shuffle_f64x2(a[h], a[2 + h], 0x44);     /* c0 c1 of both */
            b[4 * h + 1] = _mm512_shuffle_f64x2(a[h], a[2 + h], 0xEE);     /* c2 c3 */
            b[4 * h + 2] = _mm512_shuffle_f64x2(a[4 + h], a[6 + h], 0x44);
            b[4 * h + 3] = _mm512_shuffle_f64x2(a[4 + h], a[6 + h], 0xEE);
            _mm512_storeu_pd(u[0 + h] + i, _mm512_shuffle_f64x2(b[4 * h], b[4 * h + 2], 0x88));
            _mm512_storeu_pd(u[2 + h] + i, _mm512_shuffle_f64x2(b[4 * h], b[4 * h + 2], 0xDD));
            _mm512_storeu_pd(u[4 + h] + i, _mm512_shuffle_f64x2(b[4 * h + 1], b[4 * h + 3], 0x88));
            _mm512_storeu_pd(u[6 + h] + i, _mm512_shuffle_f64x2(b[4 * h + 1], b[4 * h + 3], 0xDD));
        }
    }
    _mm512_storeu_si512(st[0], s0);
    _mm512_storeu_si512(st[1], s1);
    _mm512_storeu_si512(st[2], s2);
    _mm512_storeu_si512(st[3], s3);
    for (int l = 0; l < nb; l++)
        for (int w = 0; w < 4; w++) after[l].s[w] = st[w][l];
}

#define VGEN_AI static inline __attribute__((target("avx512f,avx512dq,avx512vl"), always_inline))

/* Pass 1 of one element (sample_span's): listed in at[0] (rate below 1) or at[1] (rates from 1
 * to INVERSION_MAX) with its uniform in u[i], or settled. */
VGEN_AI void drawn_element(ustream_t *s, Py_ssize_t i, const float *rate, const float *p0,
                           float *out, drawn_lists_t *L, Py_ssize_t *m, Py_ssize_t *bad,
                           Py_ssize_t *active) {
    const float r = rate[i];
    const double ui = us_uniform(s);
    out[i] = 0.0f;
    if (r >= 0.0f && r < (float)INVERSION_MAX) {
        if (ui >= (double)p0[i]) {
            const int c = r >= 1.0f;
            L->u[i] = ui;
            L->at[c][m[c]++] = (int32_t)i;
        }
    } else {
        out[i] = settle_unlisted(r, ui, p0[i], s, bad, active);
    }
}

/* sample_span for a block whose uniforms are in s (draw_uniforms8): the same counts. Eight
 * elements at a time: the runs of elements with rates in [0, INVERSION_MAX) between two
 * others take consecutive uniforms (one vector load each run); the others, one by one, take
 * theirs and PTRS's. */
VGEN static Py_ssize_t sample_span_drawn(ustream_t *s, const float *rate, const float *p0,
                                         float *out, Py_ssize_t n, Py_ssize_t *nnz,
                                         drawn_lists_t *L) {
    Py_ssize_t bad = 0, active = 0, m[2] = {0, 0}, i = 0;
    const __m512d one = _mm512_set1_pd(1.0), rmax = _mm512_set1_pd(INVERSION_MAX);
    const __m512d zero = _mm512_setzero_pd();
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (; i + 8 <= n; i += 8) {
        const __m512d r = _mm512_cvtps_pd(_mm256_loadu_ps(rate + i));
        const __m512d pv = _mm512_cvtps_pd(_mm256_loadu_ps(p0 + i));
        const __mmask8 ok = _mm512_cmp_pd_mask(r, zero, _CMP_GE_OQ) &
                            _mm512_cmp_pd_mask(r, rmax, _CMP_LT_OQ);
        const __mmask8 hi = _mm512_cmp_pd_mask(r, one, _CMP_GE_OQ);
        const __m256i at = _mm256_add_epi32(iota, _mm256_set1_epi32((int32_t)i));
        _mm256_storeu_ps(out + i, _mm256_setzero_ps());
        unsigned rem = 0xFF; /* lanes not yet given their uniform */
        while (rem) {
            const unsigned others = ~(unsigned)ok & rem;
            const int f = others ? __builtin_ctz(others) : 8; /* next lane not listable */
            const unsigned run = rem & ((1u << f) - 1);      /* listable lanes before it */
            if (run) {
                if (s->pos + 8 > s->len) break; /* past the drawn uniforms: one by one below */
                const int first = __builtin_ctz(run);
                const __m512d ui = _mm512_loadu_pd(s->buf + s->pos - first); /* lane l: pos + l - first */
                _mm512_mask_storeu_pd(L->u + i, (__mmask8)run, ui);
                const __mmask8 take = (__mmask8)run & _mm512_cmp_pd_mask(ui, pv, _CMP_GE_OQ);
                const __mmask8 lo_m = take & (__mmask8)~hi, hi_m = take & hi;
                _mm256_storeu_si256((__m256i *)(L->at[0] + m[0]), _mm256_maskz_compress_epi32(lo_m, at));
                _mm256_storeu_si256((__m256i *)(L->at[1] + m[1]), _mm256_maskz_compress_epi32(hi_m, at));
                m[0] += __builtin_popcount(lo_m);
                m[1] += __builtin_popcount(hi_m);
                s->pos += __builtin_popcount(run);
                rem &= ~run;
            }
            if (f == 8) break;
            drawn_element(s, i + f, rate, p0, out, L, m, &bad, &active);
            rem &= ~(1u << f);
        }
        for (int l = 0; rem; l++, rem >>= 1) /* past the drawn uniforms (rare) */
            if (rem & 1u) drawn_element(s, i + l, rate, p0, out, L, m, &bad, &active);
    }
    for (; i < n; i++) drawn_element(s, i, rate, p0, out, L, m, &bad, &active);
    for (int c = 0; c < 2; c++) invert_list(L->u, L->at[c], m[c], 1, rate, p0, out);
    if (nnz != NULL) *nnz += active + m[0] + m[1];
    return bad;
}

/* Counts of blocks blk0 .. blk0 + nb - 1 (nb <= 8) of the n elements of rate; block l's
 * exp(-rate) at p0_first + l * BLOCK_SIZE. */
static Py_ssize_t sample_group(uint64_t seed, Py_ssize_t blk0, int nb, Py_ssize_t n,
                               const float *rate, const float *p0_first, float *out,
                               Py_ssize_t *nnz, group_ws_t *gws) {
    rng_t after[8];
    Py_ssize_t bad = 0;
    draw_uniforms8(seed, blk0, nb, gws->u, after);
    for (int l = 0; l < nb; l++) {
        const Py_ssize_t lo = (blk0 + l) * BLOCK_SIZE;
        const Py_ssize_t hi = lo + BLOCK_SIZE < n ? lo + BLOCK_SIZE : n;
        ustream_t s = {gws->u[l], 0, UNIFORMS_AHEAD, after[l]};
        bad += sample_span_drawn(&s, rate + lo, p0_first + (Py_ssize_t)l * BLOCK_SIZE, out + lo,
                                 hi - lo, nnz, &gws->drawn);
    }
    return bad;
}
#endif

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
    group_ws_t *ws = (group_ws_t *)PyMem_RawMalloc(sizeof(group_ws_t));
    if (ws == NULL) return PyErr_NoMemory();
    Py_BEGIN_ALLOW_THREADS
#ifdef SUB_SIMD
    if (use_vector_generator) {
        for (Py_ssize_t blk = block_start; blk < block_stop; blk += 8) {
            const int nb = block_stop - blk < 8 ? (int)(block_stop - blk) : 8;
            bad += sample_group((uint64_t)seed, blk, nb, n, rate, p0 + blk * BLOCK_SIZE, out, NULL,
                                ws);
        }
    } else
#endif
    {
        for (Py_ssize_t blk = block_start; blk < block_stop; blk++) {
            rng_t g;
            rng_seed(&g, (uint64_t)seed, (uint64_t)blk);
            Py_ssize_t lo = blk * BLOCK_SIZE, hi = lo + BLOCK_SIZE < n ? lo + BLOCK_SIZE : n;
            bad += sample_span(&g, rate + lo, p0 + lo, out + lo, hi - lo, NULL, &ws->lists);
        }
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

#ifdef SUB_SIMD
/* AVX-512 path (sub_rows_wide), blocked for the L1 cache. The one-row-at-a-time loop streams
 * a 512-byte slice of M from L2 per nonzero and tile; here M is first copied into tiles of
 * SUBW_TW = 128 columns (K x 128 floats each, contiguous, columns past N zero) and each tile
 * is used in panels of SUBW_KB rows of M (64 x 128 floats = 32 KB, which stay in L1 while
 * every row of a chunk of SUBW_RB rows of z runs over the panel). A chunk's nonzeros are
 * listed once (compare and compress, 16 at a time), panel by panel: byte offsets into the
 * panel and values. Each output column is still one fused multiply-add chain over the row's
 * nonzeros in ascending k, started from 0 (between panels the 8 accumulators are parked in
 * acc, exactly), then base - acc: the same bits as the loop in sub_rows_body, for any split
 * of the rows. Returns -1, having written nothing, where it does not apply (K or N zero, a
 * few rows only, no memory); the caller then runs that loop. */
#define SUBW_TW 128      /* columns per tile: 8 vectors of 16 floats */
#ifndef SUBW_KB
#define SUBW_KB 64       /* rows of M per panel (a multiple of 16) */
#endif
#ifndef SUBW_RB
#define SUBW_RB 128      /* rows of z per chunk */
#endif
#ifndef SUBW_MIN_ROWS
#define SUBW_MIN_ROWS 32 /* fewer rows: copying M costs more than it saves */
#endif

/* rows [0, nr) of a chunk over one panel: acc (first panel: 0) += listed entries, then
 * parked in acc, or (last panel) out = base - acc. W vectors of 16 columns (W < 8: the
 * last, narrower tile, whose last vector is stored under the mask tail). Prefetches: the
 * next panel (into L2, spread over the first 128 rows) and, one panel before the last, the
 * rows of base and out. */
__attribute__((target("avx512f,avx2,fma"))) static inline __attribute__((always_inline)) void
subw_panel(const char *panel, const int32_t *off, const float *val, const int32_t *start,
           Py_ssize_t nr, float *acc, const int first, const int last, const int ahead,
           const float *base, float *out, Py_ssize_t N, const int W, const __mmask16 tail,
           const char *next) {
    for (Py_ssize_t r = 0; r < nr; r++) {
        __m512 a[8];
        float *ar = acc + r * SUBW_TW;
        if (r < SUBW_KB * SUBW_TW * 4 / 256)
            for (int l = 0; l < 4; l++) _mm_prefetch(next + r * 256 + l * 64, _MM_HINT_T1);
        if (ahead)
            for (int w = 0; w < W; w++) {
                _mm_prefetch((const char *)(base + r * N + 16 * w), _MM_HINT_T1);
                _mm_prefetch((const char *)(out + r * N + 16 * w), _MM_HINT_T1);
            }
        for (int w = 0; w < W; w++) a[w] = first ? _mm512_setzero_ps() : _mm512_load_ps(ar + 16 * w);
        for (int32_t i = start[r], e = start[r + 1]; i < e; i++) {
            const __m512 v = _mm512_set1_ps(val[i]);
            const float *p = (const float *)(panel + off[i]);
            for (int w = 0; w < W; w++) a[w] = _mm512_fmadd_ps(v, _mm512_load_ps(p + 16 * w), a[w]);
        }
        if (last) {
            const float *x = base + r * N;
            float *o = out + r * N;
            for (int w = 0; w < W - 1; w++)
                _mm512_storeu_ps(o + 16 * w, _mm512_sub_ps(_mm512_loadu_ps(x + 16 * w), a[w]));
            _mm512_mask_storeu_ps(o + 16 * (W - 1), tail,
                                  _mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + 16 * (W - 1)),
                                                a[W - 1]));
        } else {
            for (int w = 0; w < W; w++) _mm512_store_ps(ar + 16 * w, a[w]);
        }
    }
}

__attribute__((target("avx512f,avx2,fma"), noinline)) static Py_ssize_t
sub_rows_wide(const float *z, const float *m, const float *base, float *out, Py_ssize_t K,
              Py_ssize_t N, Py_ssize_t r0, Py_ssize_t r1) {
    if (K <= 0 || N <= 0 || r1 - r0 < SUBW_MIN_ROWS) return -1;
    const Py_ssize_t ntile = (N + SUBW_TW - 1) / SUBW_TW, nkb = (K + SUBW_KB - 1) / SUBW_KB;
    const Py_ssize_t rb = r1 - r0 < SUBW_RB ? r1 - r0 : SUBW_RB;
    const Py_ssize_t region = rb * SUBW_KB + 16; /* list entries per panel (+16: full stores) */
    /* workspace: tiles (K x 128 floats each), acc (rb x 128), offsets and values (nkb lists
     * of region entries), starts (nkb x (rb + 1)): about 4 K N + 512 rb + 8 K rb bytes */
    const size_t bytes = ((size_t)ntile * K * SUBW_TW + (size_t)rb * SUBW_TW) * sizeof(float) +
                         (size_t)nkb * region * (sizeof(int32_t) + sizeof(float)) +
                         (size_t)nkb * (rb + 1) * sizeof(int32_t) + 64;
    void *mem = PyMem_RawMalloc(bytes);
    if (mem == NULL) return -1;
    float *tiles = (float *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    float *acc = tiles + (size_t)ntile * K * SUBW_TW;
    int32_t *offs = (int32_t *)(acc + (size_t)rb * SUBW_TW);
    float *vals = (float *)(offs + (size_t)nkb * region);
    int32_t *starts = (int32_t *)(vals + (size_t)nkb * region);

    for (Py_ssize_t k = 0; k < K; k++) /* copy M into tiles (reading M in order) */
        for (Py_ssize_t t = 0; t < ntile; t++) {
            const Py_ssize_t j0 = t * SUBW_TW, wc = N - j0 < SUBW_TW ? N - j0 : SUBW_TW;
            float *d = tiles + ((size_t)t * K + k) * SUBW_TW;
            for (int w = 0; w < SUBW_TW / 16; w++) {
                const Py_ssize_t c = wc - 16 * w;
                const __mmask16 in = c >= 16 ? 0xFFFF : c > 0 ? (__mmask16)((1u << c) - 1) : 0;
                _mm512_store_ps(d + 16 * w, _mm512_maskz_loadu_ps(in, m + k * N + j0 + 16 * w));
            }
        }

    Py_ssize_t nnz = 0;
    const __m512i lane = _mm512_mullo_epi32(
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
        _mm512_set1_epi32(SUBW_TW * sizeof(float)));
    for (Py_ssize_t c0 = r0; c0 < r1; c0 += rb) {
        const Py_ssize_t nr = r1 - c0 < rb ? r1 - c0 : rb;
        for (Py_ssize_t q = 0; q < nkb; q++) starts[q * (rb + 1)] = 0;
        for (Py_ssize_t r = 0; r < nr; r++) { /* list the chunk's nonzeros, panel by panel */
            const float *zr = z + (c0 + r) * K;
            for (Py_ssize_t q = 0; q < nkb; q++) {
                int32_t *of = offs + q * region, *st = starts + q * (rb + 1);
                float *va = vals + q * region;
                const Py_ssize_t k0 = q * SUBW_KB, k1 = K - k0 < SUBW_KB ? K : k0 + SUBW_KB;
                int32_t pos = st[r];
                for (Py_ssize_t k = k0; k < k1; k += 16) {
                    const __mmask16 in = k1 - k >= 16 ? 0xFFFF : (__mmask16)((1u << (k1 - k)) - 1);
                    const __m512 zv = _mm512_maskz_loadu_ps(in, zr + k);
                    /* zr[k] != 0.0f, as in the scalar listing (NaN is listed, -0.0 is not) */
                    const __mmask16 nz = _mm512_mask_cmp_ps_mask(in, zv, _mm512_setzero_ps(), _CMP_NEQ_UQ);
                    const __m512i o = _mm512_add_epi32(
                        lane, _mm512_set1_epi32((int32_t)((k - k0) * SUBW_TW * sizeof(float))));
                    _mm512_storeu_si512((void *)(of + pos), _mm512_maskz_compress_epi32(nz, o));
                    _mm512_storeu_ps(va + pos, _mm512_maskz_compress_ps(nz, zv));
                    pos += __builtin_popcount((unsigned)nz);
                }
                st[r + 1] = pos;
            }
        }
        for (Py_ssize_t q = 0; q < nkb; q++) nnz += starts[q * (rb + 1) + nr];
        /* the next chunk's rows of z, fetched into L2 while this chunk runs */
        const char *pf = (const char *)(z + (c0 + nr) * K);
        const Py_ssize_t pf_rows = r1 - c0 - nr < rb ? r1 - c0 - nr : rb;
        const Py_ssize_t pf_bytes = pf_rows * K * (Py_ssize_t)sizeof(float);
        const Py_ssize_t pf_step = (pf_bytes / (ntile * nkb) + 63) & ~(Py_ssize_t)63;
        Py_ssize_t pf_at = 0;
        for (Py_ssize_t t = 0; t < ntile; t++) {
            const Py_ssize_t j0 = t * SUBW_TW, wc = N - j0 < SUBW_TW ? N - j0 : SUBW_TW;
            const int W = (int)((wc + 15) / 16);
            const __mmask16 tail = wc % 16 ? (__mmask16)((1u << (wc % 16)) - 1) : 0xFFFF;
            const float *x = base + c0 * N + j0;
            float *o = out + c0 * N + j0;
            for (Py_ssize_t q = 0; q < nkb; q++) {
                for (Py_ssize_t e = pf_at + pf_step; pf_at < e && pf_at < pf_bytes; pf_at += 64)
                    _mm_prefetch(pf + pf_at, _MM_HINT_T1);
                const char *panel = (const char *)(tiles + ((size_t)t * K + q * SUBW_KB) * SUBW_TW);
                const int32_t *of = offs + q * region, *st = starts + q * (rb + 1);
                const float *va = vals + q * region;
                const int first = q == 0, last = q == nkb - 1, ahead = q == nkb - 2;
                const char *next = (const char *)(tiles + ((size_t)t * K + (q + 1) * SUBW_KB) * SUBW_TW);
                if (t == ntile - 1 && last) next = (const char *)tiles; /* nothing next */
                switch (W) {
#define SUBW_CASE(w)                                                                      \
    case w: subw_panel(panel, of, va, st, nr, acc, first, last, ahead, x, o, N, w, tail, next); break;
                    SUBW_CASE(8) SUBW_CASE(7) SUBW_CASE(6) SUBW_CASE(5)
                    SUBW_CASE(4) SUBW_CASE(3) SUBW_CASE(2) SUBW_CASE(1)
#undef SUBW_CASE
                }
            }
        }
    }
    PyMem_RawFree(mem);
    return nnz;
}
#endif

/* wide: the AVX-512 build (sub_rows_wide where it applies, else also 128-column tiles of
 * 16-float vectors below) */
static inline __attribute__((always_inline)) Py_ssize_t
sub_rows_body(const float *z, const float *m, const float *base, float *out, Py_ssize_t K,
              Py_ssize_t N, Py_ssize_t r0, Py_ssize_t r1, int32_t *idx, float *val,
              const int wide) {
#ifdef SUB_SIMD
    if (wide) {
        const Py_ssize_t nnz = sub_rows_wide(z, m, base, out, K, N, r0, r1);
        if (nnz >= 0) return nnz;
    }
#endif
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

/* 1 when every lane of e is <= 2^-10, in the AVX-512 build (avx512 = 1: one compare into a
 * mask register and a test; GCC's vector extensions have no cheap all-lanes test); 0 in the
 * others, whose code never contains the instructions (the argument is a constant). */
AI int v_all_tiny(vec16 e, const int avx512) {
#if defined(SUB_SIMD) && !defined(__clang__)
    if (avx512) {
        const vec16 t = (vec16){0} + 0x1.0p-10f;
        unsigned short k;
        __asm__("vcmpleps %2, %1, %0" : "=k"(k) : "v"(e), "v"(t));
        return k == 0xFFFF;
    }
#endif
    (void)e;
    return 0;
}

/* softplus(y) = max(y, 0) + log1p(exp(-|y|)). Where every lane has exp(-|y|) <= 2^-10 (in an
 * iP-VAE step: all vectors of du's soft clamp and ~96 % of u's, whose arguments are far from
 * the clamp c), log1p(e) = e - e^2/2 + e^3/3 to a relative 2^-32, without the reduction. */
AI vec16 v_softplus(vec16 y, const int avx512) {
    const vec16 neg_abs = v_select(y < 0.0f, y, -y);
    const vec16 e = v_exp(neg_abs);
    const vec16 l = v_all_tiny(e, avx512) ? e - e * e * (0.5f - e * (1.0f / 3.0f))
                                          : v_log1p_unit(e);
    return v_max(y, (vec16){0}) + l;
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
                    float eta, float c, float floor_, const int avx512) {
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
    /* the next block's drive and potentials, fetched while this block computes (a sequential
     * read of arrays larger than L2 that the hardware prefetcher leaves to demand misses;
     * prefetches never fault, so past the last block is harmless) */
    for (Py_ssize_t j = 0; j < n; j += 16) { /* du, then y = c - (u + du) */
        __builtin_prefetch(drive + n + j);
        const vec16 du = v_max(c - v_softplus(load16(y + j), avx512), vfloor);
        const vec16 v = c - (du + v_load_tail(u_in, j, n));
        memcpy(y + j, &v, sizeof v);
    }
    for (Py_ssize_t j = 0; j < n; j += 16) { /* u' */
        __builtin_prefetch(u_in + n + j);
        const vec16 v = v_max(c - v_softplus(load16(y + j), avx512), vfloor);
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
        Py_ssize_t b0, Py_ssize_t b1, Py_ssize_t *nnz, group_ws_t *ws
#define UPD_CALL drive, u_in, bias, u_out, rate, z, n, K, eta, c, floor_, seed, b0, b1, nnz, ws

/* grouped: update eight blocks, then draw their uniforms together (sample_group) */
AI Py_ssize_t update_sample_body(UPD_ARGS, const int grouped) {
    Py_ssize_t bad = 0;
#ifdef SUB_SIMD
    if (grouped && use_vector_generator) {
        for (Py_ssize_t blk = b0; blk < b1; blk += 8) {
            const int nb = b1 - blk < 8 ? (int)(b1 - blk) : 8;
            for (int l = 0; l < nb; l++) {
                const Py_ssize_t lo = (blk + l) * BLOCK_SIZE;
                const Py_ssize_t hi = lo + BLOCK_SIZE < n ? lo + BLOCK_SIZE : n;
                update_span(drive + lo, u_in + lo, bias, u_out + lo, rate + lo, ws->p0[l], hi - lo,
                            lo, K, eta, c, floor_, 1);
            }
            bad += sample_group(seed, blk, nb, n, rate, ws->p0[0], z, nnz, ws);
        }
        return bad;
    }
#endif
    for (Py_ssize_t blk = b0; blk < b1; blk++) {
        Py_ssize_t lo = blk * BLOCK_SIZE, hi = lo + BLOCK_SIZE < n ? lo + BLOCK_SIZE : n;
        update_span(drive + lo, u_in + lo, bias, u_out + lo, rate + lo, ws->p0[0], hi - lo, lo, K,
                    eta, c, floor_, grouped);
        rng_t g;
        rng_seed(&g, seed, (uint64_t)blk);
        bad += sample_span(&g, rate + lo, ws->p0[0], z + lo, hi - lo, nnz, &ws->lists);
    }
    return bad;
}

static Py_ssize_t update_sample_plain(UPD_ARGS) { return update_sample_body(UPD_CALL, 0); }
#ifdef SUB_SIMD
__attribute__((target("avx2,fma"))) static Py_ssize_t update_sample_avx2(UPD_ARGS) {
    return update_sample_body(UPD_CALL, 0);
}
__attribute__((target("avx512f,avx2,fma"))) static Py_ssize_t update_sample_avx512(UPD_ARGS) {
    return update_sample_body(UPD_CALL, 1);
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
    group_ws_t *ws = (group_ws_t *)PyMem_RawMalloc(sizeof(group_ws_t));
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

/* _set_vector_generator(flag) -> previous flag (tests: both ways of drawing agree) */
static PyObject *set_vector_generator(PyObject *self, PyObject *args) {
    int flag;
    if (!PyArg_ParseTuple(args, "p", &flag)) return NULL;
    int previous = use_vector_generator;
    use_vector_generator = flag && cpu_draws_in_lanes();
    return PyBool_FromLong(previous);
}

static PyMethodDef methods[] = {
    {"_set_vector_generator", set_vector_generator, METH_VARARGS,
     "_set_vector_generator(flag) -> bool\n\nDraw eight blocks' uniforms together in AVX-512 "
     "lanes where the CPU can (the counts are the same either way); returns the previous "
     "setting."},
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
    use_vector_generator = cpu_draws_in_lanes();
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddIntConstant(m, "BLOCK_SIZE", BLOCK_SIZE) < 0 ||
        PyModule_AddObject(m, "INVERSION_MAX", PyFloat_FromDouble(INVERSION_MAX)) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
