/*
 * uart.c — UART0 (an ARM PL011, datasheet 4.2) on GP0 (TX) and GP1 (RX), 8 data bits, no
 * parity, 1 stop bit, both 32-entry FIFOs on. Polled: putc blocks while the TX FIFO is full,
 * getc never blocks.
 *
 * The baud divisor is clk_peri / (16 × baud) in 16.6 fixed point (UARTIBRD.UARTFBRD), rounded
 * to nearest; clk_peri is RP2040_CLK_PERI_HZ (clocks.c sets it). At 133 MHz and 115200 baud:
 * 72 + 10/64, 0.003 % fast.
 *
 * In rp2040js every byte written to UARTDR reaches the harness at once (no baud timing), the TX
 * FIFO is never full, and received bytes wait in a 32-byte RX FIFO the harness fills.
 */
#include "rp2040.h"

#define UART UART0_BASE

void uart_init(uint32_t baud) {
  uint32_t divisor64 = (4u * RP2040_CLK_PERI_HZ + baud / 2u) / baud; /* 64 × clk / (16 × baud) */
  uint32_t ibrd = divisor64 >> 6, fbrd = divisor64 & 63u;
  if (ibrd == 0) {
    ibrd = 1; /* the fastest rate the divider allows */
    fbrd = 0;
  } else if (ibrd >= 65535u) {
    ibrd = 65535u; /* the slowest */
    fbrd = 0;
  }
  REG(UART + UARTCR) = 0; /* disabled while configured */
  REG(UART + UARTIBRD) = ibrd;
  REG(UART + UARTFBRD) = fbrd;
  /* Writing LCR_H also latches the divisor (PL011). */
  REG(UART + UARTLCR_H) = UARTLCR_H_WLEN_8 | UARTLCR_H_FEN;
  REG(UART + UARTIMSC) = 0;
  REG(UART + UARTCR) = UARTCR_UARTEN | UARTCR_TXE | UARTCR_RXE;

  /* GP0 drives TX; GP1 is an input with a pull-up, so an unconnected RX idles high. */
  REG(PADS_BANK0_GPIO(0)) = PADS_DRIVE_4MA | PADS_IE;
  REG(PADS_BANK0_GPIO(1)) = PADS_DRIVE_4MA | PADS_IE | PADS_PUE | PADS_SCHMITT;
  REG(IO_BANK0_GPIO_CTRL(0)) = GPIO_CTRL_FUNCSEL_UART;
  REG(IO_BANK0_GPIO_CTRL(1)) = GPIO_CTRL_FUNCSEL_UART;
}

void uart_putc(uint8_t c) {
  while (REG(UART + UARTFR) & UARTFR_TXFF) {
  }
  REG(UART + UARTDR) = c;
}

void uart_write(const uint8_t *data, size_t length) {
  for (size_t i = 0; i < length; i++) uart_putc(data[i]);
}

void uart_puts(const char *text) {
  while (*text) uart_putc((uint8_t)*text++);
}

int uart_getc(void) {
  if (REG(UART + UARTFR) & UARTFR_RXFE) return -1;
  return (int)(REG(UART + UARTDR) & 0xffu);
}

void uart_flush(void) {
  while (REG(UART + UARTFR) & UARTFR_BUSY) {
  }
}
