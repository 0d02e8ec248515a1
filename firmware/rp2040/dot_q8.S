/*
 * dot_q8_rows4 for the Cortex-M0+ (ARMv6-M), the int8 inner loop of every matmul: four rows of
 * weights against one activation vector (templates/common/kernel-builtins.h calls it on ARMv6-M;
 * src/kernels/builtins.ts dotQ8Rows4 is its TypeScript twin; integer sums, so exactly equal).
 *
 *   void dot_q8_rows4_armv6m(int32_t* out, const int8_t* x, int x_off,
 *                            const int8_t* w, int w_off, int row_stride, int n);
 *
 * GCC's loop for the C version spends ~10 cycles per product: its pointers and four sums do not
 * fit the eight low registers. Here the sums live in r8-r11 (ADD may name a high register), the
 * five byte pointers point past the end and one negative index k counts up to zero, so a column
 * is 5 LDRSB (2 cycles each) + 4 MULS + 4 ADD + ADDS = 19 cycles for 4 products, and a pass of four
 * columns ends in one BNE (2 cycles): 78 cycles for 16 products (n mod 4 columns first).
 */
    .syntax unified
    .cpu cortex-m0plus
    .thumb

/* one column k: x[k] times the four rows' weights, into the four sums */
    .macro column
    ldrsb   r6, [r1, r7]        /* x[k] */
    ldrsb   r0, [r3, r7]
    muls    r0, r6
    add     r8, r0
    ldrsb   r0, [r4, r7]
    muls    r0, r6
    add     r9, r0
    ldrsb   r0, [r2, r7]
    muls    r0, r6
    add     r10, r0
    ldrsb   r0, [r5, r7]
    muls    r0, r6
    add     r11, r0
    .endm

    .section .text.dot_q8_rows4_armv6m, "ax", %progbits
    .global dot_q8_rows4_armv6m
    .type dot_q8_rows4_armv6m, %function
    .thumb_func
dot_q8_rows4_armv6m:
    push    {r4-r7, lr}
    mov     r4, r8
    mov     r5, r9
    mov     r6, r10
    mov     r7, r11
    push    {r4-r7}
    /* 9 words saved: the stacked arguments w_off, row_stride, n are at sp + 36, 40, 44 */
    ldr     r4, [sp, #36]       /* w_off */
    ldr     r5, [sp, #40]       /* row_stride */
    ldr     r6, [sp, #44]       /* n */
    adds    r1, r1, r2
    adds    r1, r1, r6          /* r1 = x + x_off + n */
    adds    r3, r3, r4
    adds    r3, r3, r6          /* r3 = row 0 + n */
    adds    r4, r3, r5          /* r4 = row 1 + n */
    adds    r2, r4, r5          /* r2 = row 2 + n */
    adds    r5, r2, r5          /* r5 = row 3 + n */
    movs    r7, #0
    mov     r8, r7
    mov     r9, r7
    mov     r10, r7
    mov     r11, r7
    push    {r0}                /* out, back at the end; r0 is the product register meanwhile */
    rsbs    r7, r6, #0          /* k = -n */
    beq     2f
    lsrs    r0, r6, #1          /* n & 1: one column first (the carry; r6 is still n) */
    bcc     3f
    column
    adds    r7, #1
    beq     2f
3:  lsrs    r0, r7, #2          /* two more if k & 2 (k is even here, and r6 is x[k] by now) */
    bcc     1f
    column
    adds    r7, #1
    column
    adds    r7, #1
    beq     2f
1:  /* four columns per pass: one loop branch for sixteen products */
    column
    adds    r7, #1
    column
    adds    r7, #1
    column
    adds    r7, #1
    column
    adds    r7, #1
    bne     1b
2:
    pop     {r0}
    mov     r1, r8
    str     r1, [r0, #0]
    mov     r1, r9
    str     r1, [r0, #4]
    mov     r1, r10
    str     r1, [r0, #8]
    mov     r1, r11
    str     r1, [r0, #12]
    pop     {r4-r7}
    mov     r8, r4
    mov     r9, r5
    mov     r10, r6
    mov     r11, r7
    pop     {r4-r7, pc}
    .size dot_q8_rows4_armv6m, . - dot_q8_rows4_armv6m
