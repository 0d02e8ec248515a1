/*
 * runtime.c — what runs between the reset handler and main(), how the firmware ends, and what
 * happens on a fault.
 *
 * Ending: rp2040_exit(code) drains the UART, puts the code in r0 and executes `bkpt #0`.
 *   - In rp2040js the harness (src/emulator/rp2040.ts) sees the breakpoint, stops and reads r0.
 *   - On silicon with a debugger attached, the debugger halts there.
 *   - On silicon without one, BKPT escalates to HardFault; exception_report() recognises the
 *     BKPT at the faulting address and idles quietly instead of reporting a fault.
 * No semihosting, no ROM calls: nothing here needs the boot ROM (rp2040js has none).
 *
 * Faults: exception_report() prints the exception and the registers the core stacked, then
 * stops with `bkpt #0xff` (the harness reports it; on silicon the core locks up, which is the
 * right thing for a fault). Note that rp2040js never raises HardFault itself.
 */
#include "rp2040.h"

void resets_unreset(uint32_t mask) {
  REG_CLR(RESETS_RESET, mask);
  while ((REG(RESETS_RESET_DONE) & mask) != mask) {
  }
}

void runtime_init(void) {
#ifndef RP2040_SKIP_CLOCKS
  clocks_init();
#endif
  /* Reset the peripherals we use, then release them: a known state even after a soft reset.
   * (Never the QSPI ones: the code is running from flash through them.) */
  const uint32_t used = RESETS_IO_BANK0 | RESETS_PADS_BANK0 | RESETS_UART0 | RESETS_TIMER;
  REG_SET(RESETS_RESET, used);
  resets_unreset(used);
  uart_init(RP2040_UART_BAUD);
  cycles_init();
}

void rp2040_exit(int code) {
  uart_flush();
  register int r0 __asm__("r0") = code;
  __asm__ volatile("bkpt #0" : : "r"(r0) : "memory");
  for (;;) __asm__ volatile("wfi");
}

static void stop_after_fault(void) __attribute__((noreturn));
static void stop_after_fault(void) {
  uart_flush();
  __asm__ volatile("bkpt #0xff" : : : "memory");
  for (;;) __asm__ volatile("wfi");
}

static const char *exception_name(uint32_t number) {
  switch (number) {
    case 2: return "NMI";
    case 3: return "HardFault";
    case 11: return "SVCall";
    case 14: return "PendSV";
    case 15: return "SysTick";
    default: return number >= 16 ? "IRQ" : "exception";
  }
}

/* Called by isr_unexpected (crt0.S) with the stacked frame: r0 r1 r2 r3 r12 lr pc xpsr. */
void exception_report(const uint32_t *frame, uint32_t ipsr) __attribute__((used, noreturn));
void exception_report(const uint32_t *frame, uint32_t ipsr) {
  uint32_t number = ipsr & 0x3f;
  uint32_t pc = frame[6];
  if (number == 3 && (pc & 1u) == 0 && pc >= XIP_BASE && pc < SRAM_END) {
    uint16_t instruction = *(const volatile uint16_t *)(uintptr_t)pc;
    if ((instruction & 0xff00u) == 0xbe00u) {
      /* A breakpoint with no debugger to catch it: rp2040_exit on silicon. Idle. */
      for (;;) __asm__ volatile("wfi");
    }
  }
  if (!(REG(UART0_BASE + UARTCR) & UARTCR_UARTEN)) uart_init(RP2040_UART_BAUD);
  print_str("\r\n*** ");
  print_str(exception_name(number));
  if (number >= 16) {
    print_str(" ");
    print_u32(number - 16);
  }
  print_str(" (exception ");
  print_u32(number);
  print_str("): pc=0x");
  print_hex32(pc);
  print_str(" lr=0x");
  print_hex32(frame[5]);
  print_str(" xpsr=0x");
  print_hex32(frame[7]);
  print_str(" sp=0x");
  print_hex32((uint32_t)(uintptr_t)frame);
  print_str("\r\n    r0=0x");
  print_hex32(frame[0]);
  print_str(" r1=0x");
  print_hex32(frame[1]);
  print_str(" r2=0x");
  print_hex32(frame[2]);
  print_str(" r3=0x");
  print_hex32(frame[3]);
  print_str(" r12=0x");
  print_hex32(frame[4]);
  print_str("\r\n");
  stop_after_fault();
}
