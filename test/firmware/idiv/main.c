/*
 * idiv — checks the kernels' integer division (idiv, templates/common/kernel-builtins.h, which
 * test/firmware/idiv.spec.ts copies beside this file) on the Cortex-M0+ in rp2040js, built with
 * the RP2040 target's flags: the inline hardware-divider path, for divisors known at run time and
 * constant ones, against libgcc's 64-bit software division. Prints `key=value` lines.
 */
#include <stdint.h>

#include "rp2040.h"
#include "kernel-builtins.h"
#include "random-operands.h"

#define RANDOM_CASES 20000
#define TIMED_CALLS 1000

static const int32_t EDGES[] = {0, 1, -1, 2, -2, 3, -3, 127, -127, 254, 32767, -32768, 65536, -65537, 0x12345678, -0x12345678, 2147483647, -2147483647 - 1};
#define N_EDGES (sizeof EDGES / sizeof EDGES[0])

static uint32_t checked, mismatches;

/* C's truncating division by libgcc's 64-bit software routine, not the hardware divider */
__attribute__((noinline)) static int32_t reference(int32_t a, int32_t b) { return (int32_t)((int64_t)a / b); }

static void check(int32_t a, int32_t b, int32_t got) {
  checked++;
  if (got != reference(a, b) && mismatches++ < 8) {
    print_str("mismatch a=");
    print_i32(a);
    print_str(" b=");
    print_i32(b);
    print_str(" got=");
    print_i32(got);
    print_str("\n");
  }
}

/* a divisor the compiler cannot see */
__attribute__((noinline)) static int32_t opaque(int32_t b) { return b; }

static int32_t timed_a[TIMED_CALLS], timed_b[TIMED_CALLS];
volatile int32_t sink;

int main(void) {
  lcg_state = 7u;
  for (unsigned i = 0; i < N_EDGES; i++) {
    for (unsigned j = 0; j < N_EDGES; j++) {
      int32_t a = EDGES[i], b = EDGES[j];
      if (b == 0 || (a == -2147483647 - 1 && b == -1)) continue; /* undefined in C */
      check(a, b, idiv(a, opaque(b)));
    }
    check(EDGES[i], 127, idiv(EDGES[i], 127)); /* a constant that is not a power of two: the divider */
    check(EDGES[i], 64, idiv(EDGES[i], 64));   /* a power of two: the compiler's shifts */
  }
  for (int i = 0; i < RANDOM_CASES; i++) {
    int32_t a = random_operand(), b = random_operand();
    if (b == 0 || (a == -2147483647 - 1 && b == -1)) continue;
    check(a, b, idiv(a, opaque(b)));
  }
  print_str("checked=");
  print_u32(checked);
  print_str("\nmismatches=");
  print_u32(mismatches);

  /* cycles per division, minus the same loop without it */
  for (int i = 0; i < TIMED_CALLS; i++) {
    timed_a[i] = random_operand();
    timed_b[i] = random_operand() | 1;
  }
  uint64_t before = cycles_now();
  int32_t sum = 0;
  for (int i = 0; i < TIMED_CALLS; i++) sum += idiv(timed_a[i], timed_b[i]);
  uint64_t with_calls = cycles_now() - before;
  sink = sum;
  before = cycles_now();
  sum = 0;
  for (int i = 0; i < TIMED_CALLS; i++) sum += timed_a[i] ^ timed_b[i];
  uint64_t without = cycles_now() - before;
  sink = sum;
  print_str("\ncycles_per_call_x100=");
  print_u64((with_calls - without) * 100 / TIMED_CALLS);
  print_str("\n");
  return 0;
}
