/*
 * Integer division on the RP2040's hardware divider (datasheet 2.3.1.5, SIO DIV_*) instead of
 * libgcc's shift-and-subtract loop: the Cortex-M0+ has no divide instruction, and the integer
 * kernels divide once per quantized value. These definitions take the place of libgcc's
 * __aeabi_idiv, __aeabi_uidiv and their ...mod twins (the C `/` and `%` operators call them).
 *
 * The divider is one per core and an interrupt handler dividing in between would overwrite its
 * operands, so each division runs with interrupts masked (PRIMASK saved and restored). The result
 * is ready 8 cycles after the divisor is written; the CSR's READY bit says so. Division by zero
 * gives what the hardware gives (C leaves it undefined).
 */
#include <stdint.h>

#include "rp2040.h"

/* quotient in the low word (r0), remainder in the high word (r1): the AEABI's idivmod convention */
static inline uint64_t divide(uint32_t dividend_reg, uint32_t divisor_reg, uint32_t n, uint32_t d) {
    uint32_t primask = interrupts_off();
    REG(dividend_reg) = n;
    REG(divisor_reg) = d;
    while (!(REG(SIO_DIV_CSR) & SIO_DIV_CSR_READY)) {
    }
    uint32_t remainder = REG(SIO_DIV_REMAINDER); /* remainder first: reading the quotient ends the operation */
    uint32_t quotient = REG(SIO_DIV_QUOTIENT);
    interrupts_restore(primask);
    return ((uint64_t)remainder << 32) | quotient;
}

int __aeabi_idiv(int n, int d) { return (int)(uint32_t)divide(SIO_DIV_SDIVIDEND, SIO_DIV_SDIVISOR, (uint32_t)n, (uint32_t)d); }

unsigned __aeabi_uidiv(unsigned n, unsigned d) { return (uint32_t)divide(SIO_DIV_UDIVIDEND, SIO_DIV_UDIVISOR, n, d); }

uint64_t __aeabi_idivmod(int n, int d) { return divide(SIO_DIV_SDIVIDEND, SIO_DIV_SDIVISOR, (uint32_t)n, (uint32_t)d); }

uint64_t __aeabi_uidivmod(unsigned n, unsigned d) { return divide(SIO_DIV_UDIVIDEND, SIO_DIV_UDIVISOR, n, d); }
