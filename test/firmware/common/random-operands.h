/*
 * Pseudo-random operands for the test firmwares that check a builtin against a reference
 * (mul-shr/main.c, idiv/main.c; their specs copy this header beside them).
 */
#include <stdint.h>

/* x <- 1664525 x + 1013904223 (mod 2^32); a program may seed lcg_state first */
static uint32_t lcg_state = 1u;
static uint32_t next_u32(void) {
  lcg_state = lcg_state * 1664525u + 1013904223u;
  return lcg_state;
}

/* A value of a random number of significant bits, so that operands of every size occur. */
static int32_t random_operand(void) {
  int32_t value = (int32_t)next_u32();
  return value >> (next_u32() >> 27);
}
