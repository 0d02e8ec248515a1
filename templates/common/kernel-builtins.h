/*
 * C definitions of the kernel builtins that C does not have (src/kernels/builtins.ts has the
 * portable TypeScript twin of each; test/codegen/builtins.spec.ts checks that they agree).
 * Pasted at the top of every generated kernels.h.
 */
static inline int imin(int a, int b) { return a < b ? a : b; }

#if defined(__AVX2__)
#include <immintrin.h>
#endif

/*
 * out[r] = sum over k < n of x[x_off + k] * w[w_off + r * row_stride + k], for the 4 rows r = 0..3.
 * The int8 values must lie in [-127, 127] (Q8_0 never produces -128): the x86 path multiplies
 * |x| by w with the sign of x moved onto w, in 16-bit pairs that cannot saturate (2 * 127 * 127).
 * Integer sums are exact in any order, so every path gives the same result.
 */
static inline void dot_q8_rows4(int32_t* out, const int8_t* x, int x_off, const int8_t* w, int w_off, int row_stride, int n) {
    const int8_t* xp = x + x_off;
    const int8_t* w0 = w + w_off;
    const int8_t* w1 = w0 + row_stride;
    const int8_t* w2 = w1 + row_stride;
    const int8_t* w3 = w2 + row_stride;
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int k = 0;
#if defined(__AVX2__)
    if (n >= 32) {
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
#if !(defined(__AVX512VNNI__) && defined(__AVX512VL__))
        const __m256i ones = _mm256_set1_epi16(1);
#endif
        for (; k + 32 <= n; k += 32) {
            __m256i xv = _mm256_loadu_si256((const __m256i*)(xp + k));
            __m256i ax = _mm256_sign_epi8(xv, xv); /* |x| as unsigned bytes */
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define DOT_Q8_STEP(acc, wp) acc = _mm256_dpbusd_epi32(acc, ax, _mm256_sign_epi8(_mm256_loadu_si256((const __m256i*)((wp) + k)), xv))
#else
#define DOT_Q8_STEP(acc, wp) \
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(_mm256_loadu_si256((const __m256i*)((wp) + k)), xv)), ones))
#endif
            DOT_Q8_STEP(a0, w0);
            DOT_Q8_STEP(a1, w1);
            DOT_Q8_STEP(a2, w2);
            DOT_Q8_STEP(a3, w3);
#undef DOT_Q8_STEP
        }
        /* one reduction for the four rows: pairwise sums, then the two 128-bit halves */
        __m256i sums = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
        __m128i total = _mm_add_epi32(_mm256_castsi256_si128(sums), _mm256_extracti128_si256(sums, 1));
        s0 = _mm_extract_epi32(total, 0);
        s1 = _mm_extract_epi32(total, 1);
        s2 = _mm_extract_epi32(total, 2);
        s3 = _mm_extract_epi32(total, 3);
    }
#endif
    for (; k < n; k++) {
        int xk = xp[k];
        s0 += xk * w0[k];
        s1 += xk * w1[k];
        s2 += xk * w2[k];
        s3 += xk * w3[k];
    }
    out[0] = s0;
    out[1] = s1;
    out[2] = s2;
    out[3] = s3;
}
