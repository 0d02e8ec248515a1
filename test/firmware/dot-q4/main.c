/*
 * dot-q4 — runs the Q4_0 row-pair builtins of every RP2040 Q4_0 matmul (firmware/rp2040/dot_q4.S)
 * in rp2040js on the cases of cases.h, which test/firmware/dot-q4.spec.ts writes with the results
 * of the TypeScript twins (src/kernels/builtins.ts):
 * - dot_q4_pair_armv6m (dotQ4Pair): every lane count 0..4, random values and the edges (x = ±127,
 *   nibbles 0 and 15, the largest sums of either sign in either row);
 * - dot_q4_pair_scaled (dotQ4PairScaled), through kernel-builtins.h as the kernels call it: groups
 *   of 16 and 32, every shift 1..16, scales of every size and sign.
 * Then the cycles of one call of 32 columns (a group of stories15M's Q4_0) and of a row pair of
 * 288 columns (9 groups, shift 12). Prints `key=value` lines.
 */
#include <stdint.h>

#include "rp2040.h"
#include "kernel-builtins.h"
#include "cases.h" /* the cases and the twins' results */

#define TIMED_CALLS 200

static int32_t x[CASE_X];
static int32_t w[CASE_WORDS];

int main(void) {
  uint32_t checked = 0, mismatches = 0;
  for (int c = 0; c < CASES; c++) {
    for (int i = 0; i < CASE_X; i++) x[i] = case_x[c][i];
    for (int i = 0; i < CASE_WORDS; i++) w[i] = case_w[c][i];
    int32_t got[2] = {-1, -1};
    dot_q4_pair_armv6m(got, x + case_x_off[c], w + case_w_off[c], case_n[c]);
    for (int r = 0; r < 2; r++) {
      checked++;
      if (got[r] != case_want[c][r] && mismatches++ < 8) {
        print_str("mismatch case=");
        print_i32(c);
        print_str(" row=");
        print_i32(r);
        print_str(" got=");
        print_i32(got[r]);
        print_str(" want=");
        print_i32(case_want[c][r]);
        print_str("\n");
      }
    }
  }
  for (int c = 0; c < SCALED; c++) {
    int32_t got[2] = {-1, -1};
    dot_q4_pair_scaled(got, 0, scaled_x[c], scaled_xm[c], scaled_w[c], 0, scaled_ws[c], 0, scaled_n[c], scaled_gs[c], scaled_shift[c]);
    for (int r = 0; r < 2; r++) {
      checked++;
      if (got[r] != scaled_want[c][r] && mismatches++ < 8) {
        print_str("mismatch scaled=");
        print_i32(c);
        print_str(" row=");
        print_i32(r);
        print_str(" got=");
        print_i32(got[r]);
        print_str(" want=");
        print_i32(scaled_want[c][r]);
        print_str("\n");
      }
    }
  }
  print_str("checked=");
  print_u32(checked);
  print_str("\nmismatches=");
  print_u32(mismatches);
  print_str("\n");

  int32_t out[2];
  uint64_t before = cycles_now();
  for (int i = 0; i < TIMED_CALLS; i++) dot_q4_pair_armv6m(out, x, w, 32);
  uint64_t calls = cycles_now() - before;
  print_str("cycles_per_call_32=");
  print_u64(calls / TIMED_CALLS);
  print_str("\n");

  static int32_t xw[288 + 9], xm[9], wq[72];
  static int16_t ws[18];
  for (int i = 0; i < 288; i++) xw[i] = x[i % CASE_X];
  for (int i = 0; i < 72; i++) wq[i] = w[i % CASE_WORDS];
  for (int g = 0; g < 9; g++) {
    int32_t sum = 0;
    for (int k = 32 * g; k < 32 * g + 32; k++) sum += xw[k];
    xw[288 + g] = 8 * sum; /* as widenQ4Activation */
    xm[g] = 40000 + g, ws[g] = 20000 - g, ws[9 + g] = -20000 + g;
  }
  before = cycles_now();
  for (int i = 0; i < TIMED_CALLS; i++) dot_q4_pair_scaled(out, 0, xw, xm, wq, 0, ws, 0, 288, 32, 12);
  calls = cycles_now() - before;
  print_str("cycles_per_pair_288=");
  print_u64(calls / TIMED_CALLS);
  print_str("\n");
  return 0;
}
