/*
 * usb — the USB serial port's test firmware (test/firmware/usb.spec.ts builds it with the runtime
 * and runs it in rp2040js with src/emulator/usb-cdc.ts as the computer). It writes a line on USB
 * before any host is there, then computes for ~20 M cycles without touching USB (as a forward
 * pass does) while the host enumerates it, then serves commands received over USB:
 *   any byte but the ones below   echoed back
 *   'T'   sends STREAM_BYTES bytes (i & 0xff) as fast as it can, then reports the cycles on UART0
 *   'X'   reports the statistics on UART0 and exits (BKPT)
 * UART0 carries the reports (`key=value` lines) for the test to read.
 */
#include "rp2040.h"
#include "usb.h"

#define BUSY_CYCLES 20000000u
#define STREAM_BYTES 65536u

static void report(const char *key, uint64_t value) {
  print_str(key);
  print_str("=");
  print_u64(value);
  print_str("\n");
}

int main(void) {
  usb_cdc_init();
  print_str("usb: controller enabled\n");
  static const char early[] = "written before the host came\n";
  usb_cdc_write((const uint8_t *)early, sizeof early - 1);

  /* a forward pass's worth of work with no USB call: the interrupt must enumerate meanwhile */
  uint64_t start = cycles_now();
  volatile uint32_t sink = 0;
  while (cycles_now() - start < BUSY_CYCLES) sink++;
  report("busy_done_configured", (uint64_t)usb_cdc_configured());
  report("busy_done_dtr", (uint64_t)usb_cdc_dtr());
  report("busy_irqs", usb_stats.irqs);

  for (;;) {
    int c = usb_cdc_getc();
    if (c < 0) continue;
    if (c == 'T') {
      static uint8_t chunk[256];
      for (uint32_t i = 0; i < sizeof chunk; i++) chunk[i] = (uint8_t)i;
      uint64_t irq_before = usb_stats.irq_cycles;
      uint64_t t0 = cycles_now();
      for (uint32_t sent = 0; sent < STREAM_BYTES; sent += sizeof chunk) usb_cdc_write(chunk, sizeof chunk);
      while (usb_cdc_pending()) {
      }
      report("stream_bytes", STREAM_BYTES);
      report("stream_cycles", cycles_now() - t0);
      report("stream_irq_cycles", usb_stats.irq_cycles - irq_before);
    } else if (c == 'X') {
      report("irqs", usb_stats.irqs);
      report("irq_cycles", usb_stats.irq_cycles);
      report("in_packets", usb_stats.in_packets);
      report("out_packets", usb_stats.out_packets);
      report("dropped", usb_stats.dropped);
      report("bootsel_requests", usb_stats.bootsel_requests);
      report("baud", usb_cdc_baud());
      return 0;
    } else {
      uint8_t b = (uint8_t)c;
      usb_cdc_write(&b, 1);
    }
  }
}
