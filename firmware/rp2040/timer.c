/*
 * timer.c — two clocks for measuring:
 *
 *   timer_us()    the TIMER block's 64-bit microsecond count (datasheet 4.6), ticked by the
 *                 watchdog's 1 MHz tick (clocks.c). Reading TIMELR latches the high half into
 *                 TIMEHR, so the low half is read first; this pairing assumes one reader at a
 *                 time (one core, not from an interrupt that may interrupt another read).
 *   cycles_now()  processor clock cycles, from SysTick (24 bits, counting down from RVR =
 *                 0xffffff on the processor clock) plus the number of times it wrapped, counted
 *                 by isr_systick. 64 bits: no overflow in practice.
 *
 * In rp2040js the TIMER follows the emulated time, which the harness advances by each
 * instruction's cycles at the current clk_sys (so µs = cycles / MHz), and SysTick counts
 * clk_sys cycles, so cycles_now() matches the emulator's own cycle count (within one cycle per
 * wrap: the emulator reloads one cycle early). Neither is affected by flash wait states there,
 * because rp2040js has none.
 */
#include "rp2040.h"

uint64_t timer_us(void) {
  uint32_t low = REG(TIMER_TIMELR);
  uint32_t high = REG(TIMER_TIMEHR);
  return ((uint64_t)high << 32) | low;
}

uint32_t timer_us32(void) { return REG(TIMER_TIMERAWL); }

static volatile uint32_t systick_wraps;

void isr_systick(void) { systick_wraps++; }

void cycles_init(void) {
  REG(M0PLUS_SYST_CSR) = 0;
  REG(M0PLUS_SYST_RVR) = SYSTICK_MAX;
  REG(M0PLUS_SYST_CVR) = 0; /* any write clears the counter; it reloads from RVR next cycle */
  systick_wraps = 0;
  REG(M0PLUS_SYST_CSR) = SYST_CSR_CLKSOURCE | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
}

uint64_t cycles_now(void) {
  uint32_t primask = interrupts_off();
  uint32_t wraps = systick_wraps;
  uint32_t current = REG(M0PLUS_SYST_CVR);
  if (REG(M0PLUS_ICSR) & ICSR_PENDSTSET) {
    /* It wrapped and isr_systick has not run yet (interrupts are off): count the wrap, and
     * read the counter again, certainly after the wrap. */
    wraps++;
    current = REG(M0PLUS_SYST_CVR);
  }
  interrupts_restore(primask);
  /* The counter reads 0xffffff one cycle after a wrap and 0 at the next one. */
  return ((uint64_t)wraps << 24) + ((SYSTICK_MAX + 1u - current) & SYSTICK_MAX);
}
