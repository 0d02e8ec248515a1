/*
 * mul-shr — checks the kernels' fixed-point product (mul_shr, templates/common/kernel-builtins.h,
 * which test/firmware/mul-shr.spec.ts copies beside this file) on the Cortex-M0+ in rp2040js:
 * for every shift 1..31 written as a constant, as the specialized kernels call it (the inline
 * assembly path), against a plain 64-bit product computed by libgcc. Operands of every size and
 * sign, and the edge values, wherever the result fits 32 bits. Prints `key=value` lines.
 */
#include <stdint.h>

#include "rp2040.h"
#include "kernel-builtins.h"
#include "random-operands.h"

#define RANDOM_CASES 1500
#define TIMED_CALLS 1000

static const int32_t EDGES[] = {0, 1, -1, 2, -2, 32767, -32768, 32768, -32769, 65535, -65536, 65536, 0x12345678, -0x12345678,
                                2147483647, -2147483647 - 1, 1 << 30, -(1 << 30), 0x0000ffff, 0x7fff0000};
#define N_EDGES (sizeof EDGES / sizeof EDGES[0])

static uint32_t checked, mismatches;

/* The product the assembly must equal, by libgcc's 64 x 64 multiply; 0 if it does not fit 32 bits. */
__attribute__((noinline)) static int reference(int32_t a, int32_t b, int s, int32_t *out) {
  int64_t r = ((int64_t)a * b + ((int64_t)1 << (s - 1))) >> s;
  *out = (int32_t)r;
  return r >= -2147483647 - 1 && r <= 2147483647;
}

static void check(int32_t a, int32_t b, int s, int32_t got) {
  int32_t want;
  if (!reference(a, b, s, &want)) return;
  checked++;
  if (got != want && mismatches++ < 8) {
    print_str("mismatch a=");
    print_i32(a);
    print_str(" b=");
    print_i32(b);
    print_str(" s=");
    print_i32(s);
    print_str(" got=");
    print_i32(got);
    print_str(" want=");
    print_i32(want);
    print_str("\n");
  }
}

#define CHECK_SHIFT(S)                                                                            \
  do {                                                                                            \
    for (unsigned i = 0; i < N_EDGES; i++)                                                        \
      for (unsigned j = 0; j < N_EDGES; j++) check(EDGES[i], EDGES[j], S, mul_shr(EDGES[i], EDGES[j], S)); \
    for (int i = 0; i < RANDOM_CASES; i++) {                                                      \
      int32_t a = random_operand(), b = random_operand();                                         \
      check(a, b, S, mul_shr(a, b, S));                                                           \
    }                                                                                             \
  } while (0)

static int32_t timed_a[TIMED_CALLS], timed_b[TIMED_CALLS];
volatile int32_t sink;

/* The cycles of TIMED_CALLS calls with shift S, minus those of the same loop without the call. */
#define TIME_CALLS(S)                                                                             \
  static uint64_t time_calls_##S(void) {                                                          \
    uint64_t before = cycles_now();                                                               \
    int32_t sum = 0;                                                                              \
    for (int i = 0; i < TIMED_CALLS; i++) sum += mul_shr(timed_a[i], timed_b[i], S);              \
    uint64_t with_calls = cycles_now() - before;                                                  \
    sink = sum;                                                                                   \
    before = cycles_now();                                                                        \
    sum = 0;                                                                                      \
    for (int i = 0; i < TIMED_CALLS; i++) sum += timed_a[i] ^ timed_b[i];                         \
    uint64_t without = cycles_now() - before;                                                     \
    sink = sum;                                                                                   \
    return with_calls - without;                                                                  \
  }
TIME_CALLS(16)
TIME_CALLS(24)

int main(void) {
  lcg_state = 2024u;
  CHECK_SHIFT(1); CHECK_SHIFT(2); CHECK_SHIFT(3); CHECK_SHIFT(4); CHECK_SHIFT(5); CHECK_SHIFT(6);
  CHECK_SHIFT(7); CHECK_SHIFT(8); CHECK_SHIFT(9); CHECK_SHIFT(10); CHECK_SHIFT(11); CHECK_SHIFT(12);
  CHECK_SHIFT(13); CHECK_SHIFT(14); CHECK_SHIFT(15); CHECK_SHIFT(16); CHECK_SHIFT(17); CHECK_SHIFT(18);
  CHECK_SHIFT(19); CHECK_SHIFT(20); CHECK_SHIFT(21); CHECK_SHIFT(22); CHECK_SHIFT(23); CHECK_SHIFT(24);
  CHECK_SHIFT(25); CHECK_SHIFT(26); CHECK_SHIFT(27); CHECK_SHIFT(28); CHECK_SHIFT(29); CHECK_SHIFT(30);
  CHECK_SHIFT(31);
  print_str("checked=");
  print_u32(checked);
  print_str("\nmismatches=");
  print_u32(mismatches);
  print_str("\n");

  /*
   * Cycles per call on each path, minus the same loop without the call: a first operand of 16
   * bits (shift 16), then wider ones (the assembly) with shifts 16 and 24.
   */
  for (int i = 0; i < TIMED_CALLS; i++) {
    timed_b[i] = random_operand() >> 8;
    timed_a[i] = (int16_t)next_u32();
  }
  print_str("cycles_16bit_x100=");
  print_u64(time_calls_16() * 100 / TIMED_CALLS);
  for (int i = 0; i < TIMED_CALLS; i++) timed_a[i] = (int32_t)(next_u32() | 0x40000000u) >> (next_u32() % 14);
  print_str("\ncycles_wide_shift16_x100=");
  print_u64(time_calls_16() * 100 / TIMED_CALLS);
  print_str("\ncycles_wide_shift24_x100=");
  print_u64(time_calls_24() * 100 / TIMED_CALLS);
  print_str("\n");
  return 0;
}
