/*
 * C definitions of the kernel builtins that C does not have (src/kernels/builtins.ts has the
 * portable TypeScript twin of each; test/codegen/builtins.spec.ts checks that they agree on this
 * machine, test/pi/builtins.spec.ts the AArch64 paths under qemu-aarch64).
 * Pasted at the top of every generated kernels.h.
 */
#include <math.h>
#include <stdint.h>
#include <string.h> /* memset: a generic build's local arrays */
static inline int imin(int a, int b) { return a < b ? a : b; }

/*
 * The builtin idiv: C's `/` on 32-bit ints (truncating toward zero). On the RP2040
 * (LLAMA2_EMBED_SIO_DIVIDER, targets/rp2040.json) a division by anything but a constant power of
 * two goes to the core's hardware divider here, inline, rather than through a call to
 * __aeabi_idiv (firmware/rp2040/divider.c): about 20 cycles instead of 37, and the caller's
 * registers stay live. The signed dividend and divisor registers start it; the quotient is
 * ready 8 cycles after the divisor is written (RP2040 datasheet, 2.3.1.5), which four taken
 * branches wait out. Interrupts are masked meanwhile, as in divider.c: a handler that divides
 * would overwrite the operands.
 */
#if defined(LLAMA2_EMBED_SIO_DIVIDER)
#include "rp2040.h" /* the divider's registers, interrupts_off / interrupts_restore */
#endif
static inline int32_t idiv(int32_t a, int32_t b) {
#if defined(LLAMA2_EMBED_SIO_DIVIDER)
    if (!(__builtin_constant_p(b) && b > 0 && (b & (b - 1)) == 0)) {
        uint32_t primask = interrupts_off();
        REG(SIO_DIV_SDIVIDEND) = (uint32_t)a;
        REG(SIO_DIV_SDIVISOR) = (uint32_t)b;
        __asm__ volatile("b 1f\n1:\tb 1f\n1:\tb 1f\n1:\tb 1f\n1:" ::: "memory");
        int32_t quotient = (int32_t)REG(SIO_DIV_QUOTIENT);
        interrupts_restore(primask);
        return quotient;
    }
#endif
    return a / b;
}

/*
 * The builtin ldexp: x * 2^k for k in [-1022, 1023], where 2^k is a normal double: multiplying by
 * it (built from its bits) is then exactly ldexp's correctly rounded x * 2^k, subnormal and
 * infinite results included, without a call into libm (scalbn), which expF32 would make for every
 * exponential; and without a branch, the loops that call it vectorize. On the Cortex-M0+ a double
 * multiply is soft float and dearer than newlib's bit-level scalbn, so libm's ldexp stays.
 */
static inline double ldexp_exact(double x, int k) {
#if defined(__ARM_ARCH_6M__)
    return ldexp(x, k);
#else
    union {
        uint64_t bits;
        double value;
    } power = {.bits = (uint64_t)(k + 1023) << 52};
    return x * power.value;
#endif
}

/*
 * The builtin roundHalfAway, C's round(): the fraction x - trunc(x) is exact, so the test needs no
 * care near .5; written out, it inlines and vectorizes where a call to round() would not (the
 * activations' quantization). newlib's round is bit-level integer code, cheaper on the M0+.
 */
static inline double round_half_away(double x) {
#if defined(__ARM_ARCH_6M__)
    return round(x);
#else
    double whole = trunc(x);
    return fabs(x - whole) >= 0.5 ? whole + copysign(1.0, x) : whole;
#endif
}

/*
 * The builtin fixedToF32: a Q16.16 value as float, x / 2^16 rounded to nearest even. On the
 * Cortex-M0+ the float's bits are built with integer instructions: libgcc's int-to-float and
 * float multiply took about 200 cycles a value (3 % of stories260K's integer token, for the 512
 * logits). Exactness: the conversion rounds once (the bits below the 24 kept, half to even), and
 * scaling by 2^-16 only lowers the exponent (no result is subnormal: |x| >= 1 gives >= 2^-16).
 */
static inline float fixed_to_f32(int32_t x) {
#if defined(__ARM_ARCH_6M__) || defined(LLAMA2_EMBED_FIXED_TO_F32_BITS) /* the tests build it on the host too */
    if (x == 0) return 0.0f;
    uint32_t sign = x < 0 ? 0x80000000u : 0u;
    uint32_t a = x < 0 ? 0u - (uint32_t)x : (uint32_t)x;
    int msb = 31 - __builtin_clz(a);
    uint32_t mantissa; /* 24 bits with the leading one, or 2^24 when rounding carries */
    if (msb <= 23) {
        mantissa = a << (23 - msb);
    } else {
        int dropped = msb - 23;
        uint32_t rest = a & ((1u << dropped) - 1u), half = 1u << (dropped - 1);
        mantissa = a >> dropped;
        if (rest > half || (rest == half && (mantissa & 1u))) mantissa++;
    }
    /* exponent msb - 16 (biased: msb + 111); a carry to 2^24 steps into the exponent by itself */
    union {
        uint32_t bits;
        float value;
    } f = {.bits = sign + ((uint32_t)(msb + 111) << 23) + (mantissa - 0x800000u)};
    return f.value;
#else
    return (float)x * 0x1p-16f;
#endif
}

/*
 * Put before the kernels' innermost integer loops of at most 16 iterations fixed by the model's
 * shapes (over a head's values, say). On the Cortex-M0+ GCC -O2 keeps them as loops whose counter
 * and bounds spill to the stack, about twice the cycles of the loop's own work (stories260K's
 * integer attention: 3.69 M -> 3.32 M cycles per token for 180 bytes of code); elsewhere the
 * compiler decides.
 */
#if defined(__ARM_ARCH_6M__)
#define KERNEL_UNROLL _Pragma("GCC unroll 16")
#else
#define KERNEL_UNROLL
#endif

/*
 * The builtin greaterF32: a > b on floats, false when either is NaN. On the Cortex-M0+ from the
 * bits: a float's magnitude orders like its bits read as an integer, so that key = bits for a
 * positive float and -(bits without the sign) for a negative one orders all of them (+0 and -0
 * alike), where libgcc's soft-float comparison costs a call and some thirty cycles.
 */
static inline int greater_f32(float a, float b) {
#if defined(__ARM_ARCH_6M__) || defined(LLAMA2_EMBED_GREATER_F32_BITS) /* the tests build it on the host too */
    uint32_t ua, ub;
    memcpy(&ua, &a, 4);
    memcpy(&ub, &b, 4);
    uint32_t ma = ua & 0x7fffffffu, mb = ub & 0x7fffffffu;
    if (ma > 0x7f800000u || mb > 0x7f800000u) return 0; /* NaN */
    int32_t ka = (ua >> 31) ? -(int32_t)ma : (int32_t)ma, kb = (ub >> 31) ? -(int32_t)mb : (int32_t)mb;
    return ka > kb;
#else
    return a > b;
#endif
}

/*
 * The fixed-point product of the integer kernels: (a * b) / 2^s rounded to nearest (ties toward
 * +infinity), exact in 64 bits; the result fits 32 bits by the kernels' design. GCC shifts signed
 * 64-bit values arithmetically, which this relies on.
 *
 * On the Cortex-M0+ (MULS keeps the low 32 bits of a product) the 64-bit product is built from
 * 16-bit halves, b = bh * 2^16 + bl with bh = b >> 16 (arithmetic) and bl = b & 0xffff, and only
 * the bits s..s+31 are assembled. When a fits 16 bits (four calls in five in stories260K's
 * integer token) two products do, and no carry crosses words, so it is plain C (14 cycles against
 * the general path's 27): a * b = x * 2^16 + y with x = a * bh (|x| <= 2^30), y = a * bl
 * (|y| < 2^31), and
 *   s >= 17: floor((x * 2^16 + y + 2^(s-1)) / 2^s) = (x + (y >> 16) + 2^(s-17)) >> (s-16), since
 *            y's low 16 bits cannot reach the next multiple of 2^16;
 *   s = 16:  x + ((y + 2^15) >> 16);
 *   s < 16:  x * 2^(16-s) + ((y + 2^(s-1)) >> s), which may wrap: the result fits, so mod 2^32 is it.
 * Wider operands take four products. With s <= 16 the middle ones are multiples of 2^16 >= 2^s,
 * so that, still without carries (al*bl is below 2^32 - 2^17: the rounding bit cannot carry out),
 *   result = ah*bh * 2^(32-s) + (ah*bl + al*bh) * 2^(16-s) + ((al*bl + 2^(s-1)) >> s) mod 2^32
 * (in the kernels about 1.5 % of the token faster than the assembly below, which the
 * microbenchmark does not show). Larger shifts need the 64-bit sum with carries: assembly.
 */
static inline int32_t mul_shr(int32_t a, int32_t b, int s) {
#if defined(__ARM_ARCH_6M__) || defined(LLAMA2_EMBED_MUL_SHR_HALVES)
    if (s >= 1 && s <= 31) { /* with s a constant, as in the specialized kernels, one branch is left */
        uint32_t bl = (uint32_t)b & 0xffffu;
        int32_t bh = b >> 16;
        if (a == (int16_t)a) {
            int32_t x = a * bh, y = a * (int32_t)bl;
            if (s >= 17) return (x + (y >> 16) + (1 << (s - 17))) >> (s - 16);
            if (s == 16) return x + ((y + (1 << 15)) >> 16);
            return (int32_t)(((uint32_t)x << (16 - s)) + (uint32_t)((y + (1 << (s - 1))) >> s));
        }
        if (s <= 16) {
            int32_t ah = a >> 16;
            uint32_t al = (uint32_t)a & 0xffffu;
            uint32_t high = (uint32_t)(ah * bh), middle = (uint32_t)(ah * (int32_t)bl) + (uint32_t)((int32_t)al * bh);
            return (int32_t)((high << (32 - s)) + (middle << (16 - s)) + ((al * bl + (1u << (s - 1))) >> s));
        }
    }
#endif
#if defined(__ARM_ARCH_6M__)
    if (__builtin_constant_p(s) && s >= 1 && s <= 31) {
        /*
         * With the shift known at compile time (every call in the specialized kernels), 25
         * instructions in five registers. Signed halves: a = ah * 2^16 + al with ah = a >> 16
         * (arithmetic) and al = a & 0xffff, so that a * b = ah*bh * 2^32 + (ah*bl + al*bh) * 2^16
         * + al*bl, where each product fits 32 bits (a signed 16-bit half times an unsigned one is
         * below 2^31). The middle products go into the 64-bit sum hi:lo with their signs, then the
         * rounding bit 2^(s-1), then the shift takes bits s..s+31.
         */
        int32_t ah = a, bh = b, hi;
        uint32_t al, lo;
        __asm__(
            ".syntax unified\n\t"             /* GCC hands inline assembly over in divided syntax */
            "uxth  %[al], %[ah]\n\t"         /* al = a & 0xffff */
            "uxth  %[lo], %[bh]\n\t"         /* lo = bl for now */
            "asrs  %[ah], %[ah], #16\n\t"
            "asrs  %[bh], %[bh], #16\n\t"
            "movs  %[hi], %[ah]\n\t"
            "muls  %[hi], %[bh]\n\t"         /* hi = ah * bh */
            "muls  %[ah], %[lo]\n\t"         /* ah = ah * bl */
            "muls  %[bh], %[al]\n\t"         /* bh = al * bh */
            "muls  %[lo], %[al]\n\t"         /* lo = al * bl */
            "lsls  %[al], %[ah], #16\n\t"    /* hi:lo += (ah * bl) << 16 */
            "asrs  %[ah], %[ah], #16\n\t"
            "adds  %[lo], %[lo], %[al]\n\t"
            "adcs  %[hi], %[ah]\n\t"
            "lsls  %[al], %[bh], #16\n\t"    /* hi:lo += (al * bh) << 16 */
            "asrs  %[bh], %[bh], #16\n\t"
            "adds  %[lo], %[lo], %[al]\n\t"
            "adcs  %[hi], %[bh]\n\t"
            "movs  %[al], #1\n\t"            /* hi:lo += 2^(s-1) */
            "lsls  %[al], %[al], %[s_1]\n\t"
            "movs  %[ah], #0\n\t"
            "adds  %[lo], %[lo], %[al]\n\t"
            "adcs  %[hi], %[ah]\n\t"
            "lsrs  %[lo], %[lo], %[s]\n\t"   /* (hi:lo) >> s, its low 32 bits */
            "lsls  %[hi], %[hi], %[s_32]\n\t"
            "orrs  %[lo], %[hi]"
            : [al] "=&l"(al), [lo] "=&l"(lo), [hi] "=&l"(hi), [ah] "+l"(ah), [bh] "+l"(bh)
            : [s] "I"(s), [s_1] "I"(s - 1), [s_32] "I"(32 - s)
            : "cc");
        return (int32_t)lo;
    }
#endif
#if defined(__ARM_ARCH_6M__) || defined(LLAMA2_EMBED_MUL_SHR_HALVES)
    /*
     * Cortex-M0+ (ARMv6-M): MULS keeps 32 bits of a product, and GCC would call libgcc's 64 x 64
     * __aeabi_lmul. Four 16 x 16 products give the unsigned 64-bit product, and subtracting the
     * other operand from the high word for each negative one makes it the signed product (mod 2^64).
     */
    uint32_t ua = (uint32_t)a, ub = (uint32_t)b;
    uint32_t al = ua & 0xffffu, ah = ua >> 16, bl = ub & 0xffffu, bh = ub >> 16;
    uint32_t ll = al * bl, lh = al * bh, hl = ah * bl;
    uint32_t mid = (ll >> 16) + (lh & 0xffffu) + (hl & 0xffffu);
    uint32_t hi = ah * bh + (lh >> 16) + (hl >> 16) + (mid >> 16);
    uint32_t lo = (mid << 16) | (ll & 0xffffu);
    if (a < 0) hi -= ub;
    if (b < 0) hi -= ua;
    int64_t product = (int64_t)(((uint64_t)hi << 32) | lo);
    return (int32_t)((product + ((int64_t)1 << (s - 1))) >> s);
#else
    return (int32_t)(((int64_t)a * b + ((int64_t)1 << (s - 1))) >> s);
#endif
}

/*
 * LLAMA2_EMBED_NO_INTRINSICS: the portable loop only (what the compiler makes of plain C), for the
 * benchmarks' baseline. LLAMA2_EMBED_DOTPROD (targets/rpi5.json): dot_q8_rows4 alone is compiled
 * for ARMv8.2 with the dot product instructions (SDOT); the rest of the program stays ARMv8.0, and
 * main.c checks the CPU before anything runs, so that a Pi 4 refuses the program instead of
 * dying of SIGILL in the middle of a matmul.
 */
#if defined(__AVX2__) && !defined(LLAMA2_EMBED_NO_INTRINSICS)
#define DOT_Q8_AVX2 1
#include <immintrin.h>
#elif defined(__aarch64__) && defined(__ARM_NEON) && !defined(LLAMA2_EMBED_NO_INTRINSICS)
#include <arm_neon.h>
#if defined(LLAMA2_EMBED_DOTPROD)
#define DOT_Q8_SDOT 1
#define DOT_Q8_TARGET __attribute__((target("arch=armv8.2-a+dotprod")))
#else
#define DOT_Q8_NEON 1
#endif
#elif defined(__ARM_ARCH_6M__) && !defined(LLAMA2_EMBED_NO_INTRINSICS)
/* Cortex-M0+: a hand-scheduled loop in assembly (firmware/rp2040/dot_q8.S) */
#define DOT_Q8_ARMV6M 1
void dot_q8_rows4_armv6m(int32_t* out, const int8_t* x, int x_off, const int8_t* w, int w_off, int row_stride, int n);
#elif defined(__ARM_FEATURE_DSP) && !defined(__aarch64__) && !defined(LLAMA2_EMBED_NO_INTRINSICS)
/*
 * Cortex-M4, M7, M33 with the DSP extension (export --core cortex-m4f|cortex-m7|cortex-m33): four
 * int8 products per two instructions. SXTB16 sign-extends bytes 0 and 2 of a word into its two
 * 16-bit halves (with ROR #8 first: bytes 1 and 3); SMLAD adds both halves' 16 x 16-bit products
 * to a 32-bit accumulator. The byte pairs of x and w line up, so two SMLADs add the word's four
 * products exactly (|product| <= 127 * 127; SMLAD's sum wraps like C's, it only sets the Q flag).
 */
#define DOT_Q8_DSP 1
static inline uint32_t dsp_sxtb16(uint32_t v) {
    uint32_t r;
    __asm__("sxtb16 %0, %1" : "=r"(r) : "r"(v));
    return r;
}
static inline uint32_t dsp_sxtb16_ror8(uint32_t v) {
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}
static inline int32_t dsp_smlad(uint32_t a, uint32_t b, int32_t acc) {
    int32_t r;
    __asm__("smlad %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}
static inline uint32_t dsp_load4(const int8_t* p) { /* the ARMv7-M/v8-M LDR takes unaligned addresses */
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
/* acc + the dot product of the four int8 values of x_even/x_odd (SXTB16'd) with those at w */
#define DOT_Q8_DSP_STEP(acc, x_even, x_odd, wp)                      \
    do {                                                             \
        uint32_t wv = dsp_load4(wp);                                 \
        acc = dsp_smlad(x_even, dsp_sxtb16(wv), acc);                \
        acc = dsp_smlad(x_odd, dsp_sxtb16_ror8(wv), acc);            \
    } while (0)
#endif
#ifndef DOT_Q8_TARGET
#define DOT_Q8_TARGET
#endif

/*
 * out[r] = sum over k < n of x[x_off + k] * w[w_off + r * row_stride + k], for the 4 rows r = 0..3.
 * The int8 values must lie in [-127, 127] (Q8_0 never produces -128): the x86 path multiplies
 * |x| by w with the sign of x moved onto w, in 16-bit pairs that cannot saturate (2 * 127 * 127);
 * the NEON path adds two int8 products in 16 bits before widening, which the same bound keeps
 * exact; SDOT sums four products straight into 32 bits.
 * Integer sums are exact in any order, so every path gives the same result.
 */
static inline DOT_Q8_TARGET void dot_q8_rows4(int32_t* out, const int8_t* x, int x_off, const int8_t* w, int w_off, int row_stride, int n) {
#if defined(DOT_Q8_ARMV6M)
    dot_q8_rows4_armv6m(out, x, x_off, w, w_off, row_stride, n);
    return;
#endif
    const int8_t* xp = x + x_off;
    const int8_t* w0 = w + w_off;
    const int8_t* w1 = w0 + row_stride;
    const int8_t* w2 = w1 + row_stride;
    const int8_t* w3 = w2 + row_stride;
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int k = 0;
#if defined(DOT_Q8_AVX2)
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
#elif defined(DOT_Q8_SDOT)
    if (n >= 8) {
        /* each SDOT adds, in every 32-bit lane, the four products of that lane's four bytes */
        int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
        for (; k + 16 <= n; k += 16) {
            int8x16_t xv = vld1q_s8(xp + k);
            a0 = vdotq_s32(a0, vld1q_s8(w0 + k), xv);
            a1 = vdotq_s32(a1, vld1q_s8(w1 + k), xv);
            a2 = vdotq_s32(a2, vld1q_s8(w2 + k), xv);
            a3 = vdotq_s32(a3, vld1q_s8(w3 + k), xv);
        }
        if (k + 8 <= n) { /* a last half vector, the upper lanes zero */
            const int8x8_t zero = vdup_n_s8(0);
            int8x16_t xv = vcombine_s8(vld1_s8(xp + k), zero);
            a0 = vdotq_s32(a0, vcombine_s8(vld1_s8(w0 + k), zero), xv);
            a1 = vdotq_s32(a1, vcombine_s8(vld1_s8(w1 + k), zero), xv);
            a2 = vdotq_s32(a2, vcombine_s8(vld1_s8(w2 + k), zero), xv);
            a3 = vdotq_s32(a3, vcombine_s8(vld1_s8(w3 + k), zero), xv);
            k += 8;
        }
        /* pairwise sums twice: lane r holds the total of row r */
        int32x4_t total = vpaddq_s32(vpaddq_s32(a0, a1), vpaddq_s32(a2, a3));
        s0 = vgetq_lane_s32(total, 0);
        s1 = vgetq_lane_s32(total, 1);
        s2 = vgetq_lane_s32(total, 2);
        s3 = vgetq_lane_s32(total, 3);
    }
#elif defined(DOT_Q8_NEON)
    if (n >= 8) {
        /* products of 8 bytes widened to 16 bits (SMULL), the next 8 added to them (SMLAL: at most
         * 2 * 127 * 127, no overflow), then pairs of 16-bit lanes added into 32-bit ones (SADALP) */
        int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0;
        for (; k + 16 <= n; k += 16) {
            int8x16_t xv = vld1q_s8(xp + k);
            int8x8_t xlo = vget_low_s8(xv);
#define DOT_Q8_STEP(acc, wp)                                   \
    do {                                                       \
        int8x16_t wv = vld1q_s8((wp) + k);                     \
        int16x8_t p = vmull_s8(xlo, vget_low_s8(wv));          \
        acc = vpadalq_s16(acc, vmlal_high_s8(p, xv, wv));      \
    } while (0)
            DOT_Q8_STEP(a0, w0);
            DOT_Q8_STEP(a1, w1);
            DOT_Q8_STEP(a2, w2);
            DOT_Q8_STEP(a3, w3);
#undef DOT_Q8_STEP
        }
        if (k + 8 <= n) { /* a last half vector */
            int8x8_t xv = vld1_s8(xp + k);
            a0 = vpadalq_s16(a0, vmull_s8(xv, vld1_s8(w0 + k)));
            a1 = vpadalq_s16(a1, vmull_s8(xv, vld1_s8(w1 + k)));
            a2 = vpadalq_s16(a2, vmull_s8(xv, vld1_s8(w2 + k)));
            a3 = vpadalq_s16(a3, vmull_s8(xv, vld1_s8(w3 + k)));
            k += 8;
        }
        int32x4_t total = vpaddq_s32(vpaddq_s32(a0, a1), vpaddq_s32(a2, a3));
        s0 = vgetq_lane_s32(total, 0);
        s1 = vgetq_lane_s32(total, 1);
        s2 = vgetq_lane_s32(total, 2);
        s3 = vgetq_lane_s32(total, 3);
    }
#elif defined(DOT_Q8_DSP)
    for (; k + 4 <= n; k += 4) {
        uint32_t xv = dsp_load4(xp + k);
        uint32_t x_even = dsp_sxtb16(xv), x_odd = dsp_sxtb16_ror8(xv);
        DOT_Q8_DSP_STEP(s0, x_even, x_odd, w0 + k);
        DOT_Q8_DSP_STEP(s1, x_even, x_odd, w1 + k);
        DOT_Q8_DSP_STEP(s2, x_even, x_odd, w2 + k);
        DOT_Q8_DSP_STEP(s3, x_even, x_odd, w3 + k);
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

/*
 * The builtin dotQ4Pair: out[0], out[1] = sum over the n columns k (a multiple of 16) of
 * x[x_off + k] times the stored nibble (0..15) of rows 0 and 1 of the Q4_0 row pair whose words
 * start at w + w_off (src/kernels/matmul-q4-int.ts has the layout). x in [-127, 127]. Word j's
 * nibbles masked by 0x000F000F put column 4j + c of both rows into one number n0 + n1 * 2^16, so
 * one product serves both rows; 16 columns are summed before the halves are taken apart
 * (|sum| <= 16 * 127 * 15 = 30480 < 2^15: the low half sign-extended is row 0's, the rest row 1's,
 * and the whole is below 2^31). On the Cortex-M0+ the assembly of firmware/rp2040/dot_q4.S
 * (GCC's loop for this C took ~45 cycles a word, the assembly 26; test/firmware/dot-q4.spec.ts
 * checks it against the TypeScript twin).
 */
#if defined(__ARM_ARCH_6M__) && !defined(LLAMA2_EMBED_NO_INTRINSICS)
#define DOT_Q4_ARMV6M 1
void dot_q4_pair_armv6m(int32_t* out, const int32_t* x, const int32_t* w, int n);
#endif
static inline void dot_q4_pair(int32_t* out, const int32_t* x, int x_off, const int32_t* w, int w_off, int n) {
#if defined(DOT_Q4_ARMV6M)
    dot_q4_pair_armv6m(out, x + x_off, w + w_off, n);
#else
    const int32_t* xp = x + x_off;
    const int32_t* wp = w + w_off;
    int32_t s0 = 0, s1 = 0;
    for (int c = 0; c < n; c += 16) {
        int32_t acc = 0;
        for (int j = 0; j < 4; j++) {
            uint32_t wv = (uint32_t)wp[(c >> 2) + j];
            const int32_t* xj = xp + c + 4 * j;
            acc += xj[0] * (int32_t)(wv & 0x000F000Fu);
            acc += xj[1] * (int32_t)((wv >> 4) & 0x000F000Fu);
            acc += xj[2] * (int32_t)((wv >> 8) & 0x000F000Fu);
            acc += xj[3] * (int32_t)((wv >> 12) & 0x000F000Fu);
        }
        int32_t low = (int16_t)acc;
        s0 += low;
        s1 += (acc - low) >> 16;
    }
    out[0] = s0;
    out[1] = s1;
#endif
}

/*
 * The builtin dotQ4PairScaled: a Q4_0 row pair's two outputs, out[out_off + r] = the sum over the
 * groups g of mul_shr(ws[ws_off + r * groups + g], mul_shr(dot - x[n + g], xm[g], 16), shift),
 * dot = dot_q4_pair's sum of row r over group g and x[n + g] = 8 * the sum of x over group g
 * (widenQ4Activation). n and group_size multiples of 16, the last group possibly shorter.
 *
 * On the Cortex-M0+, for groups of 16 or 32 columns filling n and shifts 1..16 (scaleShift
 * 17..32; with the shapes specialized this test folds away), the assembly of
 * firmware/rp2040/dot_q4.S does the whole row pair with both products short ones, exactly as
 * mul_shr's 16-bit path: |dot - x[n + g]| <= 32 * 127 * 8 < 2^15 and |ws| < 2^15. A row pair of
 * stories15M (288 columns, 9 groups): 2,838 cycles (test/firmware/dot-q4.spec.ts), where GCC's
 * loop around dot_q4_pair's assembly took about 3,500 and the kernel compiled whole about 5,000
 * (compute cycles of `npm run bench -- rp2040-15m` per row pair).
 */
#if defined(DOT_Q4_ARMV6M)
/* what the assembly reads besides the activation and the weights (the offsets in dot_q4.S) */
typedef struct {
    const int32_t* xm;      /* 0: the activation's group scales */
    const int16_t* ws;      /* 4: row 0's weight scales; row 1's follow, groups later */
    int groups;             /* 8 */
    int lanes;              /* 12: 16-column lanes a group, 1 or 2 */
    int shift;              /* 16: 1..16 */
    const int32_t* bias;    /* 20: x + n, 8 * the sum of x per group */
    int up;                 /* 24: 16 - shift */
    int32_t half;           /* 28: 2^(shift - 1), the rounding */
} DotQ4PairScaledJob;
void dot_q4_pair_scaled_armv6m(int32_t* out, const int32_t* x, const int32_t* w, const DotQ4PairScaledJob* job);
#endif
static inline void dot_q4_pair_scaled(int32_t* out, int out_off, const int32_t* x, const int32_t* xm, const int32_t* w, int w_off,
                                      const int16_t* ws, int ws_off, int n, int group_size, int shift) {
    int groups = (n + group_size - 1) / group_size;
#if defined(DOT_Q4_ARMV6M)
    if ((group_size == 16 || group_size == 32) && n % group_size == 0 && shift >= 1 && shift <= 16) {
        DotQ4PairScaledJob job = {xm, ws + ws_off, groups, group_size / 16, shift, x + n, 16 - shift, (int32_t)1 << (shift - 1)};
        dot_q4_pair_scaled_armv6m(out + out_off, x, w + w_off, &job);
        return;
    }
#endif
    int32_t dots[2];
    int32_t v0 = 0, v1 = 0;
    for (int g = 0; g < groups; g++) {
        int start = g * group_size;
        dot_q4_pair(dots, x, start, w, w_off + (start >> 2), imin(group_size, n - start));
        int32_t bias = x[n + g], m = xm[g];
        v0 += mul_shr(ws[ws_off + g], mul_shr(dots[0] - bias, m, 16), shift);
        v1 += mul_shr(ws[ws_off + groups + g], mul_shr(dots[1] - bias, m, 16), shift);
    }
    out[out_off] = v0;
    out[out_off + 1] = v1;
}

/*
 * The int8 dot products of the consecutive groups of one row: out[g] = sum over the columns k of
 * group g (group_size of them, the last group possibly shorter, n columns in all) of
 * x[x_off + k] * w[w_off + k]. Values in [-127, 127], as for dot_q8_rows4. With AVX2, groups of a
 * multiple of 32 columns go four at a time, their four sums reduced together as dot_q8_rows4
 * reduces its four rows; the rest, and other targets, take the plain loop.
 *
 * The AVX2 path also asks for the weights DOT_Q8_PREFETCH_AHEAD bytes ahead, one request per
 * group (a 64-byte line at the default group size): a matmul of long rows reads its weights once,
 * in order, and the hardware prefetcher alone left a single thread at ~70 % of the machine's
 * streaming bandwidth (stories110M's shapes, x86: 4096 bytes ahead gave +10 % tokens/s, 2048 and
 * 8192 less). A prefetch never faults, past the end of the weights included.
 */
#ifndef DOT_Q8_PREFETCH_AHEAD
#define DOT_Q8_PREFETCH_AHEAD 4096
#endif
static inline void dot_q8_groups(int32_t* out, const int8_t* x, int x_off, const int8_t* w, int w_off, int n, int group_size) {
    const int8_t* xp = x + x_off;
    const int8_t* wp = w + w_off;
    int g = 0;
#if defined(DOT_Q8_AVX2)
    if (group_size % 32 == 0) {
#if !(defined(__AVX512VNNI__) && defined(__AVX512VL__))
        const __m256i ones = _mm256_set1_epi16(1);
#endif
        for (; (g + 4) * group_size <= n; g += 4) {
            __m256i sum[4];
            for (int r = 0; r < 4; r++) {
                __m256i acc = _mm256_setzero_si256();
                /* the address in integers: it may lie past the weights, where pointer arithmetic is undefined */
                _mm_prefetch((const char*)((uintptr_t)(wp + (g + r) * group_size) + DOT_Q8_PREFETCH_AHEAD), _MM_HINT_T0);
                for (int k = (g + r) * group_size; k < (g + r + 1) * group_size; k += 32) {
                    __m256i xv = _mm256_loadu_si256((const __m256i*)(xp + k));
                    __m256i ax = _mm256_sign_epi8(xv, xv); /* |x|, the sign moved onto w */
                    __m256i sw = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i*)(wp + k)), xv);
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
                    acc = _mm256_dpbusd_epi32(acc, ax, sw);
#else
                    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sw), ones));
#endif
                }
                sum[r] = acc;
            }
            __m256i sums = _mm256_hadd_epi32(_mm256_hadd_epi32(sum[0], sum[1]), _mm256_hadd_epi32(sum[2], sum[3]));
            _mm_storeu_si128((__m128i*)(out + g), _mm_add_epi32(_mm256_castsi256_si128(sums), _mm256_extracti128_si256(sums, 1)));
        }
    }
#endif
    for (int start = g * group_size; start < n; start += group_size) {
        int end = n - start < group_size ? n : start + group_size;
        int32_t s = 0;
        int k = start;
#if defined(DOT_Q8_DSP)
        for (; k + 4 <= end; k += 4) {
            uint32_t xv = dsp_load4(xp + k);
            DOT_Q8_DSP_STEP(s, dsp_sxtb16(xv), dsp_sxtb16_ror8(xv), wp + k);
        }
#endif
        for (; k < end; k++) s += xp[k] * wp[k];
        out[g++] = s;
    }
}
