/*
 * dot_q4_pair for the Cortex-M0+ (ARMv6-M), the inner loop of every Q4_0 matmul: the dot products
 * of one activation vector with a pair of rows stored in row-pair words (src/kernels/matmul-q4-int.ts
 * has the layout; templates/common/kernel-builtins.h calls this on ARMv6-M; src/kernels/builtins.ts
 * dotQ4Pair is its TypeScript twin, test/firmware/dot-q4.spec.ts checks that they agree).
 *
 *   void dot_q4_pair_armv6m(int32_t* out, const int32_t* x, const int32_t* w, int n);
 *
 * out[0], out[1] = sum over the n columns k (a multiple of 16) of x[k] times the nibble (0..15) of
 * row 0 and of row 1. Word j of the pair holds column 4j + c of row 0 in bits 4c..4c+3 and of row 1
 * 16 bits higher, so (word >> 4c) & 0x000F000F is n0 + n1 * 2^16 and one MULS by x adds to both
 * rows. A lane of 16 columns (four words) goes into one accumulator; then its low half,
 * sign-extended (SXTH), is row 0's sum and the rest, shifted down, row 1's: |sum| <= 16 * 127 * 15
 * < 2^15 for x in [-127, 127].
 *
 * A column is (LSRS or MOVS) + ANDS + LDR + MULS + ADDS = 6 cycles, a word 26 with its LDR (GCC's
 * loop for the C took ~45): 8 products. A lane adds 11 cycles (split and loop), a call ~25.
 * Registers: r0 x[k], r1 x, r2 w, r3 lanes left, r4 the mask, r5 the lane's accumulator, r6 the
 * word, r7 the column's number; the two sums in r12 and lr (ADD may name any register), out on
 * the stack.
 */
    .syntax unified
    .cpu cortex-m0plus
    .thumb

/* column c of the word in r6 (x at byte offset off from r1) into the accumulator r5 */
    .macro column c, off
    .if \c == 0
    movs    r7, r6
    .else
    lsrs    r7, r6, #(4 * \c)
    .endif
    ands    r7, r4
    ldr     r0, [r1, #\off]
    muls    r7, r0
    adds    r5, r5, r7
    .endm

/* word j of the lane: columns 4j..4j+3 */
    .macro word j
    ldr     r6, [r2, #(4 * \j)]
    column  0, (16 * \j)
    column  1, (16 * \j + 4)
    column  2, (16 * \j + 8)
    column  3, (16 * \j + 12)
    .endm

/*
 * One lane: 16 columns (4 words) into the accumulator r5, then its halves added to the sums:
 * row 0's, the low half sign-extended, to r12, row 1's, the rest shifted down, to lr; x and w
 * step to the next lane. 112 cycles, 115 with the loop's branches.
 */
    .macro lane
    /* the lane's first column starts the accumulator */
    ldr     r6, [r2, #0]
    movs    r5, r6
    ands    r5, r4
    ldr     r0, [r1, #0]
    muls    r5, r0
    column  1, 4
    column  2, 8
    column  3, 12
    word    1
    word    2
    word    3
    sxth    r7, r5
    add     r12, r7
    subs    r5, r5, r7
    asrs    r5, r5, #16
    add     lr, r5
    adds    r1, #64
    adds    r2, #16
    .endm

    .section .text.dot_q4_pair_armv6m, "ax", %progbits
    .global dot_q4_pair_armv6m
    .type dot_q4_pair_armv6m, %function
    .thumb_func
dot_q4_pair_armv6m:
    push    {r0, r4-r7, lr}
    movs    r4, #15
    lsls    r5, r4, #16
    orrs    r4, r5              /* r4 = 0x000F000F */
    movs    r5, #0
    mov     r12, r5             /* row 0's sum */
    mov     lr, r5              /* row 1's sum */
    lsrs    r3, r3, #4          /* lanes of 16 columns */
    beq     2f
1:
    lane
    subs    r3, #1
    beq     2f
    b       1b                  /* a lane is beyond BNE's reach */
2:
    pop     {r0}
    mov     r1, r12
    str     r1, [r0, #0]
    mov     r1, lr
    str     r1, [r0, #4]
    pop     {r4-r7, pc}
    .size dot_q4_pair_armv6m, . - dot_q4_pair_armv6m

/* 16 columns (4 words) added to the accumulator r5; x and w step on. 104 + 2 cycles. */
    .macro lane_sum
    word    0
    word    1
    word    2
    word    3
    adds    r1, #64
    adds    r2, #16
    .endm

/*
 * void dot_q4_pair_scaled_armv6m(int32_t* out, const int32_t* x, const int32_t* w, const DotQ4PairScaledJob* job);
 *
 * A row pair's two outputs (the builtin dotQ4PairScaled; templates/common/kernel-builtins.h has
 * the job's fields and when it is called), for groups of 16 or 32 columns. A group's columns go
 * into one accumulator, acc = S0 + S1 * 2^16 (mod 2^32) with Sr = sum of x times row r's nibbles;
 * then acc - bias * 65537 = D0 + D1 * 2^16 with Dr = Sr - bias = the dot product with the values
 * (nibble - 8), |Dr| <= 32 * 127 * 8 = 32512 < 2^15: the whole fits an int32 (32512 * 65537 < 2^31),
 * so it is exact whatever wrapped on the way, D0 is its low half sign-extended and D1 the rest.
 * Then for both rows
 *   t = mul_shr(D, m, 16) = D * mh + ((D * ml + 2^15) >> 16)
 *   v += mul_shr(ws, t, shift) = (ws * th << (16 - shift)) + ((ws * tl + 2^(shift-1)) >> shift)
 * with m = mh * 2^16 + ml (mh = m >> 16, ml = m & 0xffff) and t likewise: mul_shr's short path
 * (|D| < 2^15 and |ws| < 2^15, so each product fits 32 bits), bit for bit. About 300 cycles a
 * group of 32 columns (64 products): 212 for the products, the rest for the scales.
 * Registers besides the columns': r8, r9 the outputs' sums, r10 the job, r11 4 * the group,
 * r12 the mask.
 */
    .equ JOB_XM, 0
    .equ JOB_WS, 4
    .equ JOB_GROUPS, 8
    .equ JOB_LANES, 12
    .equ JOB_SHIFT, 16
    .equ JOB_BIAS, 20
    .equ JOB_UP, 24
    .equ JOB_HALF, 28

    .section .text.dot_q4_pair_scaled_armv6m, "ax", %progbits
    .global dot_q4_pair_scaled_armv6m
    .type dot_q4_pair_scaled_armv6m, %function
    .thumb_func
dot_q4_pair_scaled_armv6m:
    push    {r4-r7, lr}
    mov     r4, r8
    mov     r5, r9
    mov     r6, r10
    mov     r7, r11
    push    {r4-r7}
    push    {r0}                /* out, back at the end */
    mov     r10, r3
    movs    r5, #0
    mov     r8, r5
    mov     r9, r5
    mov     r11, r5
    movs    r4, #15
    lsls    r0, r4, #16
    orrs    r4, r0
    mov     r12, r4             /* the mask 0x000F000F */
    ldr     r0, [r3, #JOB_GROUPS]
    cmp     r0, #0
    bne     2f
    b       3f                  /* no group: out = {0, 0} */
2:  /* a group: its lanes into one accumulator */
    mov     r4, r12
    movs    r5, #0
    mov     r3, r10
    ldr     r3, [r3, #JOB_LANES]
1:
    lane_sum
    subs    r3, #1
    beq     4f
    b       1b                  /* a lane is beyond BNE's reach */
4:  /* D0 + D1 * 2^16 = acc - bias * 65537, taken apart */
    mov     r7, r10
    mov     r3, r11
    ldr     r0, [r7, #JOB_BIAS]
    ldr     r0, [r0, r3]
    lsls    r6, r0, #16
    adds    r6, r6, r0
    subs    r5, r5, r6
    sxth    r7, r5              /* D0 */
    subs    r6, r5, r7
    asrs    r6, r6, #16         /* D1 */
    movs    r5, r7
    /* t = mul_shr(D, m, 16) */
    mov     r7, r10
    ldr     r0, [r7, #JOB_XM]
    ldr     r0, [r0, r3]
    asrs    r4, r0, #16         /* mh */
    uxth    r0, r0              /* ml */
    movs    r7, #1
    lsls    r7, r7, #15         /* 2^15 */
    movs    r3, r5
    muls    r3, r0
    muls    r5, r4
    adds    r3, r3, r7
    asrs    r3, r3, #16
    adds    r5, r5, r3          /* t0 */
    movs    r3, r6
    muls    r3, r0
    muls    r6, r4
    adds    r3, r3, r7
    asrs    r3, r3, #16
    adds    r6, r6, r3          /* t1 */
    /* the rows' weight scales: ws[g] and ws[groups + g] */
    mov     r7, r10
    ldr     r4, [r7, #JOB_WS]
    mov     r3, r11
    lsrs    r3, r3, #1          /* 2g */
    ldrsh   r0, [r4, r3]        /* ws0 */
    ldr     r7, [r7, #JOB_GROUPS]
    lsls    r7, r7, #1
    adds    r3, r3, r7
    ldrsh   r4, [r4, r3]        /* ws1 */
    /* v += mul_shr(ws, t, shift) */
    asrs    r3, r5, #16
    muls    r3, r0              /* ws0 * t0h */
    uxth    r5, r5
    muls    r5, r0              /* ws0 * t0l */
    asrs    r0, r6, #16
    muls    r0, r4              /* ws1 * t1h */
    uxth    r6, r6
    muls    r6, r4              /* ws1 * t1l */
    mov     r7, r10
    ldr     r4, [r7, #JOB_UP]
    lsls    r3, r4
    lsls    r0, r4
    ldr     r4, [r7, #JOB_HALF]
    adds    r5, r5, r4
    adds    r6, r6, r4
    ldr     r4, [r7, #JOB_SHIFT]
    asrs    r5, r4
    asrs    r6, r4
    adds    r3, r3, r5
    add     r8, r3
    adds    r0, r0, r6
    add     r9, r0
    /* the next group */
    movs    r3, #4
    add     r11, r3
    ldr     r3, [r7, #JOB_GROUPS]
    lsls    r3, r3, #2
    cmp     r3, r11
    beq     3f
    b       2b
3:
    pop     {r0}
    mov     r1, r8
    str     r1, [r0, #0]
    mov     r1, r9
    str     r1, [r0, #4]
    pop     {r4-r7}
    mov     r8, r4
    mov     r9, r5
    mov     r10, r6
    mov     r11, r7
    pop     {r4-r7, pc}
    .size dot_q4_pair_scaled_armv6m, . - dot_q4_pair_scaled_armv6m
