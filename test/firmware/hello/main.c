/*
 * hello — the RP2040 runtime's test firmware (test/firmware/hello.spec.ts builds and runs it in
 * rp2040js). It prints a greeting, computes things the test recomputes in TypeScript (a float
 * sum and a float dot product with soft float, an int8 dot product), times them with the TIMER
 * and SysTick, echoes 8 bytes it receives on UART0, and exits through rp2040_exit (BKPT).
 * Every line is `key=value` or plain text, for the test to parse.
 */
#include "rp2040.h"

#define DOT_LENGTH 1000
#define FLOAT_LENGTH 100
#define ECHO_BYTES 8
#define ECHO_TIMEOUT_US 200000u
#define BENCH_REPEATS 2000

static int8_t xs[DOT_LENGTH], ys[DOT_LENGTH];
static float fx[FLOAT_LENGTH], fy[FLOAT_LENGTH];

/* The generator the test reproduces: x ← 1664525·x + 1013904223 (mod 2^32), top byte. */
static uint32_t lcg_state = 12345u;
static int8_t next_int8(void) {
  lcg_state = lcg_state * 1664525u + 1013904223u;
  return (int8_t)(lcg_state >> 24);
}

/* What the model's int8 matmul does per row, in plain C (the test measures its cycles). */
__attribute__((noinline)) int32_t dot_int8(const int8_t *x, const int8_t *y, int n) {
  int32_t sum = 0;
  for (int i = 0; i < n; i++) sum += (int32_t)x[i] * (int32_t)y[i];
  return sum;
}

/* The same, copied to SRAM by crt0.S (.sram_text) and called through a long-branch veneer. */
__attribute__((noinline, section(".sram_text.dot_int8_sram"))) int32_t dot_int8_sram(const int8_t *x, const int8_t *y, int n) {
  int32_t sum = 0;
  for (int i = 0; i < n; i++) sum += (int32_t)x[i] * (int32_t)y[i];
  return sum;
}

__attribute__((noinline)) float dot_float(const float *x, const float *y, int n) {
  float sum = 0.0f;
  for (int i = 0; i < n; i++) sum += x[i] * y[i];
  return sum;
}

static uint32_t float_bits(float f) {
  union {
    float f;
    uint32_t u;
  } pun = {.f = f};
  return pun.u;
}

static void print_key(const char *key) {
  print_str(key);
  print_str("=");
}

int main(void) {
  print_str("hello from rp2040\n");
  print_key("clk_sys_hz");
  print_u32(clocks_sys_hz());
  print_str("\n");

  uint64_t started_us = timer_us();
  uint64_t started_cycles = cycles_now();

  /* Soft float: the harmonic sum 1 + 1/2 + … + 1/100 in float32, in this order. */
  float harmonic = 0.0f;
  for (int i = 1; i <= FLOAT_LENGTH; i++) harmonic += 1.0f / (float)i;
  print_key("float_sum_bits");
  print_hex32(float_bits(harmonic));
  print_str("\n");

  for (int i = 0; i < DOT_LENGTH; i++) {
    xs[i] = next_int8();
    ys[i] = next_int8();
  }
  for (int i = 0; i < FLOAT_LENGTH; i++) {
    fx[i] = (float)xs[i] / 64.0f;
    fy[i] = (float)ys[i] / 32.0f;
  }

  uint64_t before = cycles_now();
  int32_t dot = dot_int8(xs, ys, DOT_LENGTH);
  uint64_t after = cycles_now();
  print_key("dot_int8");
  print_i32(dot);
  print_str("\n");
  print_key("dot_int8_cycles");
  print_u64(after - before);
  print_str("\n");

  before = cycles_now();
  int32_t dot_sram = dot_int8_sram(xs, ys, DOT_LENGTH);
  after = cycles_now();
  print_key("dot_int8_sram");
  print_i32(dot_sram);
  print_str("\n");
  print_key("dot_int8_sram_cycles");
  print_u64(after - before);
  print_str("\n");

  before = cycles_now();
  float fdot = dot_float(fx, fy, FLOAT_LENGTH);
  after = cycles_now();
  print_key("dot_float_bits");
  print_hex32(float_bits(fdot));
  print_str("\n");
  print_key("dot_float_cycles");
  print_u64(after - before);
  print_str("\n");

  /* An empty measurement: what cycles_now() itself costs, to subtract. */
  before = cycles_now();
  after = cycles_now();
  print_key("cycles_overhead");
  print_u64(after - before);
  print_str("\n");

  print_key("elapsed_us");
  print_u64(timer_us() - started_us);
  print_str("\n");
  print_key("elapsed_cycles");
  print_u64(cycles_now() - started_cycles);
  print_str("\n");

  /* A longer run for the emulator's speed: BENCH_REPEATS int8 dot products. */
  before = cycles_now();
  uint64_t bench_started_us = timer_us();
  int32_t checksum = 0;
  for (int r = 0; r < BENCH_REPEATS; r++) checksum += dot_int8(xs, ys, DOT_LENGTH - (r & 1));
  print_key("bench_checksum");
  print_i32(checksum);
  print_str("\n");
  print_key("bench_cycles");
  print_u64(cycles_now() - before);
  print_str("\n");
  print_key("bench_us");
  print_u64(timer_us() - bench_started_us);
  print_str("\n");

  print_str("ready for 8 bytes\n");
  uint8_t received[ECHO_BYTES];
  int count = 0;
  uint32_t wait_started = timer_us32();
  while (count < ECHO_BYTES && timer_us32() - wait_started < ECHO_TIMEOUT_US) {
    int c = uart_getc();
    if (c >= 0) received[count++] = (uint8_t)c;
  }
  print_str("echo: ");
  uart_write(received, (size_t)count);
  print_str("\n");
  if (count < ECHO_BYTES) {
    print_str("echo timed out after ");
    print_i32(count);
    print_str(" bytes\n");
  }
  print_str("bye\n");
  return count == ECHO_BYTES ? 0 : 3;
}
