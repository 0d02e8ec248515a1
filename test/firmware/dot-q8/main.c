/*
 * dot-q8 — checks the int8 dot product of every RP2040 matmul (dot_q8_rows4_armv6m,
 * firmware/rp2040/dot_q8.S) in rp2040js against plain C sums: every length 0..80 (odd ones take a
 * column alone before the two-column loop), several row strides and offsets, random values and the
 * extremes ±127. Then the cycles of one call of 64 columns (a group of stories260K). Prints
 * `key=value` lines for test/firmware/dot-q8.spec.ts.
 */
#include <stdint.h>

#include "rp2040.h"

void dot_q8_rows4_armv6m(int32_t* out, const int8_t* x, int x_off, const int8_t* w, int w_off, int row_stride, int n);

#define MAX_N 80
#define MAX_STRIDE 96
#define TIMED_CALLS 200

static uint32_t lcg_state = 7u;
static int8_t random_int8(void) {
  lcg_state = lcg_state * 1664525u + 1013904223u;
  int v = (int)(lcg_state >> 24) % 255 - 127; /* -127..127 */
  if ((lcg_state & 0x700) == 0) v = (lcg_state & 0x800) ? 127 : -127;
  return (int8_t)v;
}

static int8_t x[MAX_N + 8];
static int8_t w[4 * MAX_STRIDE + MAX_N + 8];
static uint32_t checked, mismatches;

static void check(int x_off, int w_off, int stride, int n) {
  int32_t got[4];
  dot_q8_rows4_armv6m(got, x, x_off, w, w_off, stride, n);
  for (int r = 0; r < 4; r++) {
    int32_t want = 0;
    for (int k = 0; k < n; k++) want += x[x_off + k] * w[w_off + r * stride + k];
    checked++;
    if (got[r] != want && mismatches++ < 8) {
      print_str("mismatch n=");
      print_i32(n);
      print_str(" row=");
      print_i32(r);
      print_str(" got=");
      print_i32(got[r]);
      print_str(" want=");
      print_i32(want);
      print_str("\n");
    }
  }
}

int main(void) {
  for (int round = 0; round < 4; round++) {
    for (unsigned i = 0; i < sizeof x; i++) x[i] = random_int8();
    for (unsigned i = 0; i < sizeof w; i++) w[i] = random_int8();
    if (round == 3) { /* the largest sums: every product 127 * 127 or -127 * 127 */
      for (unsigned i = 0; i < sizeof x; i++) x[i] = 127;
      for (unsigned i = 0; i < sizeof w; i++) w[i] = (i & 1) ? 127 : -127;
    }
    for (int n = 0; n <= MAX_N; n++) {
      check(0, 0, n, n);                 /* rows back to back, as a matrix */
      check(3, 5, MAX_STRIDE, n);        /* a group inside longer rows, odd offsets */
      check(8, 1, n + 4, n);
    }
  }
  print_str("checked=");
  print_u32(checked);
  print_str("\nmismatches=");
  print_u32(mismatches);
  print_str("\n");

  int32_t out[4];
  uint64_t before = cycles_now();
  for (int i = 0; i < TIMED_CALLS; i++) dot_q8_rows4_armv6m(out, x, 0, w, 0, 64, 64);
  uint64_t calls = cycles_now() - before;
  print_str("cycles_per_call_64=");
  print_u64(calls / TIMED_CALLS);
  print_str("\n");
  return 0;
}
