/*
 * print.c — text and numbers over the UART, without printf (newlib's printf would pull in
 * malloc, stdio and a soft-float formatter). Floats: print their bits with print_hex32, which
 * is exact, and let the host interpret them.
 */
#include "rp2040.h"

void print_str(const char *text) { uart_puts(text); }

void print_u64(uint64_t value) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = (char)('0' + (int)(value % 10u));
    value /= 10u;
  } while (value);
  while (n) uart_putc((uint8_t)digits[--n]);
}

void print_u32(uint32_t value) {
  char digits[10];
  int n = 0;
  do {
    digits[n++] = (char)('0' + value % 10u);
    value /= 10u;
  } while (value);
  while (n) uart_putc((uint8_t)digits[--n]);
}

void print_i32(int32_t value) {
  if (value < 0) {
    uart_putc('-');
    print_u32(0u - (uint32_t)value);
  } else {
    print_u32((uint32_t)value);
  }
}

void print_hex32(uint32_t value) {
  static const char hex[] = "0123456789abcdef";
  for (int shift = 28; shift >= 0; shift -= 4) uart_putc((uint8_t)hex[(value >> shift) & 15u]);
}
