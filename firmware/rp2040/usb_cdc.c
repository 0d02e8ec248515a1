/*
 * usb_cdc.c — the serial port of usb.h: CDC-ACM (USB Class Definitions for Communication Devices
 * 1.2 and its PSTN subclass) on top of usb.c's device.
 *
 *   - Class requests on EP0: SET_LINE_CODING / GET_LINE_CODING (the baud rate and framing the host
 *     chose: kept and reported, meaningless on USB), SET_CONTROL_LINE_STATE (DTR: a program has
 *     the port open; RTS), SEND_BREAK (accepted, ignored).
 *   - The 1200-baud touch: the host sets 1200 baud and drops DTR (opens the port at 1200 and
 *     closes it) → once that request's status stage is done, usb_reboot_to_bootsel(): the boot
 *     ROM's reset_usb_boot, as pico-sdk programs do, so `llama2-embed flash` needs no button.
 *   - Data: bytes written by the application wait in a 1 KiB ring; the interrupt moves them into
 *     EP2 IN 64 bytes at a time, one packet in flight (single buffered: a token frame is ~16
 *     bytes every ~130 ms, four orders of magnitude below what one buffer carries). Received EP2
 *     OUT packets go into a 256-byte ring; EP2 OUT is armed again only when a whole packet fits,
 *     so the host is held off (NAK) instead of bytes being lost.
 *   - The serial number: the flash chip's 64-bit unique id (command 4Bh), read once at start-up by
 *     code in SRAM with the flash's XIP interface briefly switched off, as 16 hex digits. If the id
 *     reads as all zeros or all ones (rp2040js, whose SSI model answers zeros) the fixed string
 *     "RP2040-NO-FLASH-ID" is used. -DUSB_NO_FLASH_ID skips the read altogether.
 */
#include "rp2040.h"
#include "usb.h"

#ifndef USB_CDC_TX_BYTES
#define USB_CDC_TX_BYTES 1024u /* a power of two */
#endif
#define USB_CDC_RX_BYTES 256u  /* a power of two, at least one packet */

volatile usb_cdc_stats usb_stats;

static volatile uint8_t tx_ring[USB_CDC_TX_BYTES];
static volatile uint32_t tx_head, tx_tail;  /* free-running: written by the application / the interrupt */
static volatile uint8_t rx_ring[USB_CDC_RX_BYTES];
static volatile uint32_t rx_head, rx_tail;  /* written by the interrupt / the application */

static volatile int configured, dtr, in_busy, out_armed, last_in_full;
static uint32_t in_pid, out_pid;
static int touch_pending;

/* Line coding (CDC PSTN 6.3.11): dwDTERate, bCharFormat (0: 1 stop bit), bParityType (0: none), bDataBits. */
static uint8_t line_coding[7] = {0x00, 0xc2, 0x01, 0x00, 0, 0, 8}; /* 115200 8N1 until the host says */

/* ---- bulk endpoints (interrupt context, or interrupts off) -------------------------------- */

/* Starts the next IN packet from the ring if none is in flight. */
static void start_in(void) {
  if (!configured || in_busy) return;
  uint32_t available = tx_head - tx_tail;
  if (available == 0) {
    /* A transfer that ended on a full packet: a zero-length packet tells the host it ended
     * (hosts that read more than 64 bytes at a time would otherwise wait for more). */
    if (!last_in_full) return;
    last_in_full = 0;
  }
  uint32_t n = available < USB_BULK_PACKET ? available : USB_BULK_PACKET;
  volatile uint8_t *buffer = (volatile uint8_t *)(USBCTRL_DPRAM_BASE + 0x200u);
  uint32_t tail = tx_tail;
  for (uint32_t i = 0; i < n; i++) buffer[i] = tx_ring[(tail + i) & (USB_CDC_TX_BYTES - 1u)];
  tx_tail = tail + n;
  if (n) last_in_full = n == USB_BULK_PACKET;
  in_busy = 1;
  usb_buffer_control(USB_DPRAM_EP_IN_BUFFER_CONTROL(CDC_EP_DATA), n | BUF_CTRL_FULL | (in_pid ? BUF_CTRL_DATA1_PID : 0) | BUF_CTRL_AVAILABLE);
  in_pid ^= 1u;
  if (n) usb_stats.in_packets++;
}

/* Arms EP2 OUT if it is not armed and the RX ring has room for a whole packet. */
static void arm_out(void) {
  if (!configured || out_armed || USB_CDC_RX_BYTES - (rx_head - rx_tail) < USB_BULK_PACKET) return;
  out_armed = 1;
  usb_buffer_control(USB_DPRAM_EP_OUT_BUFFER_CONTROL(CDC_EP_DATA), USB_BULK_PACKET | (out_pid ? BUF_CTRL_DATA1_PID : 0) | BUF_CTRL_AVAILABLE);
  out_pid ^= 1u;
}

void usb_cdc_buffers_done(uint32_t done) {
  if (done & USB_BUFF_STATUS_EP_OUT(CDC_EP_DATA)) {
    uint32_t length = REG(USB_DPRAM_EP_OUT_BUFFER_CONTROL(CDC_EP_DATA)) & BUF_CTRL_LENGTH_BITS;
    volatile uint8_t *buffer = (volatile uint8_t *)(USBCTRL_DPRAM_BASE + 0x1c0u);
    uint32_t head = rx_head;
    if (length > USB_BULK_PACKET) length = USB_BULK_PACKET;
    for (uint32_t i = 0; i < length; i++) rx_ring[(head + i) & (USB_CDC_RX_BYTES - 1u)] = buffer[i];
    rx_head = head + length;
    out_armed = 0;
    usb_stats.out_packets++;
    arm_out();
  }
  if (done & USB_BUFF_STATUS_EP_IN(CDC_EP_DATA)) {
    in_busy = 0;
    start_in();
  }
  /* EP1 IN (notifications) is never armed. */
}

void usb_cdc_bus_reset(void) {
  configured = 0;
  dtr = 0;
  in_busy = out_armed = last_in_full = 0;
  touch_pending = 0;
}

void usb_cdc_set_configured(int on) {
  /* A (re)configuration starts every endpoint at DATA0 with nothing in flight. */
  in_pid = out_pid = 0;
  in_busy = out_armed = last_in_full = 0;
  configured = on;
  if (!on) dtr = 0;
  arm_out();
  start_in(); /* what the application wrote before the host came */
}

/* ---- class requests (CDC PSTN 6.3) -------------------------------------------------------- */

#define CDC_SET_LINE_CODING 0x20u
#define CDC_GET_LINE_CODING 0x21u
#define CDC_SET_CONTROL_LINE_STATE 0x22u
#define CDC_SEND_BREAK 0x23u
#define TOUCH_BAUD 1200u

uint32_t usb_cdc_baud(void) {
  return (uint32_t)line_coding[0] | ((uint32_t)line_coding[1] << 8) | ((uint32_t)line_coding[2] << 16) | ((uint32_t)line_coding[3] << 24);
}

int usb_cdc_class_request(const usb_setup_packet *s) {
  switch (s->bRequest) {
    case CDC_SET_LINE_CODING:
      if (s->wLength != sizeof line_coding) return 0;
      usb_ep0_receive();
      return 1;
    case CDC_GET_LINE_CODING:
      usb_ep0_send(line_coding, sizeof line_coding, s->wLength);
      return 1;
    case CDC_SET_CONTROL_LINE_STATE: {
      int was_open = dtr;
      dtr = s->wValue & 1u;
      /* the 1200-baud touch: the port was opened at 1200 baud and is being closed */
      if (!dtr && usb_cdc_baud() == TOUCH_BAUD) touch_pending = 1;
      if (dtr && !was_open) {
        uint32_t primask = interrupts_off();
        start_in(); /* the host reads again */
        interrupts_restore(primask);
      }
      usb_ep0_status();
      return 1;
    }
    case CDC_SEND_BREAK: usb_ep0_status(); return 1;
    default: return 0;
  }
}

void usb_cdc_class_data(const usb_setup_packet *s, const uint8_t *data, uint32_t length) {
  if (s->bRequest == CDC_SET_LINE_CODING && length == sizeof line_coding) {
    for (uint32_t i = 0; i < length; i++) line_coding[i] = data[i];
  }
}

void usb_cdc_class_done(const usb_setup_packet *s) {
  if (s->bRequest == CDC_SET_CONTROL_LINE_STATE && touch_pending) {
    touch_pending = 0;
    usb_stats.bootsel_requests++;
    usb_reboot_to_bootsel();
  }
}

/* ---- the application's side --------------------------------------------------------------- */

int usb_cdc_configured(void) { return configured; }
int usb_cdc_dtr(void) { return configured && dtr; }
size_t usb_cdc_pending(void) { return tx_head - tx_tail; }

size_t usb_cdc_write(const uint8_t *data, size_t length) {
  size_t written = 0;
  while (written < length) {
    uint32_t head = tx_head, room = USB_CDC_TX_BYTES - (head - tx_tail);
    if (room == 0) {
      if (!usb_cdc_dtr()) { /* nobody listens: drop rather than hang */
        usb_stats.dropped += (uint32_t)(length - written);
        break;
      }
      continue; /* the interrupt empties the ring as the host reads */
    }
    while (room-- && written < length) tx_ring[head++ & (USB_CDC_TX_BYTES - 1u)] = data[written++];
    tx_head = head;
    uint32_t primask = interrupts_off();
    start_in();
    interrupts_restore(primask);
  }
  return written;
}

int usb_cdc_readable(void) { return rx_tail != rx_head; }

int usb_cdc_getc(void) {
  uint32_t tail = rx_tail;
  if (tail == rx_head) return -1;
  int c = rx_ring[tail & (USB_CDC_RX_BYTES - 1u)];
  rx_tail = tail + 1;
  if (!out_armed) {
    uint32_t primask = interrupts_off();
    arm_out();
    interrupts_restore(primask);
  }
  return c;
}

/* ---- the serial number: the flash's unique id --------------------------------------------- */

static char serial_number[24] = "RP2040-NO-FLASH-ID";

const char *usb_cdc_serial_number(void) { return serial_number; }

/*
 * BOOT2_QUAD (build --boot2 quad): the flash stays in continuous read mode, where it takes the
 * next transfer's first bits for an address, not a command; the 4Bh below would need the mode
 * reset first, which has not been written yet. Such builds keep the fixed serial number.
 */
#if defined(BOOT2_QUAD) && !defined(USB_NO_FLASH_ID)
#define USB_NO_FLASH_ID 1
#endif

#ifndef USB_NO_FLASH_ID
#define SSI_CTRLR0 (XIP_SSI_BASE + 0x00u)
#define SSI_SSIENR (XIP_SSI_BASE + 0x08u)
#define SSI_SR (XIP_SSI_BASE + 0x28u)
#define SSI_DR0 (XIP_SSI_BASE + 0x60u)
#define SSI_SR_RFNE (1u << 3)
#define SSI_CTRLR0_DFS_32_LSB 16
#define IO_QSPI_GPIO_QSPI_SS_CTRL 0x4001800cu
#define GPIO_CTRL_OUTOVER_LSB 8
#define OUTOVER_NORMAL 0u
#define OUTOVER_LOW 2u
#define OUTOVER_HIGH 3u
#define FLASH_READ_UNIQUE_ID 0x4bu

/* boot2, copied to SRAM: called as a function (LR ≠ 0) it sets the SSI up for XIP again and returns. */
static uint32_t boot2_copy[64];

/*
 * Runs from SRAM with interrupts off: flash is not readable between the first write to SSIENR
 * and boot2's return. Sends 4Bh, 4 dummy bytes, and clocks in 8 bytes, with chip select held low
 * by the QSPI SS pad's output override (the SSI would release it whenever its FIFO ran empty).
 */
__attribute__((noinline, section(".sram_text.flash_unique_id"))) static void flash_unique_id_in_sram(uint8_t id[8], void (*boot2)(void)) {
  REG(SSI_SSIENR) = 0;
  REG(SSI_CTRLR0) = 7u << SSI_CTRLR0_DFS_32_LSB; /* 8-bit frames, transmit and receive, standard SPI */
  REG(SSI_SSIENR) = 1;
  REG(IO_QSPI_GPIO_QSPI_SS_CTRL) = OUTOVER_LOW << GPIO_CTRL_OUTOVER_LSB;
  for (uint32_t i = 0; i < 13; i++) {
    REG(SSI_DR0) = i == 0 ? FLASH_READ_UNIQUE_ID : 0u;
    for (uint32_t guard = 100000u; !(REG(SSI_SR) & SSI_SR_RFNE) && guard; guard--) {
    }
    uint32_t byte = REG(SSI_DR0);
    if (i >= 5) id[i - 5] = (uint8_t)byte;
  }
  REG(IO_QSPI_GPIO_QSPI_SS_CTRL) = OUTOVER_HIGH << GPIO_CTRL_OUTOVER_LSB;
  REG(IO_QSPI_GPIO_QSPI_SS_CTRL) = OUTOVER_NORMAL << GPIO_CTRL_OUTOVER_LSB;
  REG(SSI_SSIENR) = 0;
  boot2();
}

static void read_serial_number(void) {
  const volatile uint32_t *flash = (const volatile uint32_t *)XIP_BASE;
  for (uint32_t i = 0; i < 64; i++) boot2_copy[i] = flash[i];
  uint8_t id[8] = {0};
  uint32_t primask = interrupts_off();
  flash_unique_id_in_sram(id, (void (*)(void))((uintptr_t)boot2_copy | 1u));
  interrupts_restore(primask);
  uint32_t zeros = 0, ones = 0;
  for (int i = 0; i < 8; i++) zeros += id[i] == 0x00, ones += id[i] == 0xff;
  if (zeros == 8 || ones == 8) return; /* no answer: keep the fallback */
  static const char hex[] = "0123456789ABCDEF";
  for (int i = 0; i < 8; i++) {
    serial_number[2 * i] = hex[id[i] >> 4];
    serial_number[2 * i + 1] = hex[id[i] & 15u];
  }
  serial_number[16] = 0;
}
#endif

void usb_cdc_init(void) {
#ifndef USB_NO_FLASH_ID
  read_serial_number();
#endif
  usb_device_init();
}

/* ---- the boot ROM's reset_usb_boot -------------------------------------------------------- */

/*
 * The boot ROM (datasheet 2.8.3): at 0x10 the bytes 'M', 'u', 1 (magic and version); at 0x14 a
 * 16-bit pointer to the function table; at 0x18 a 16-bit pointer to rom_table_lookup(table,
 * code), which finds a function by its two-letter code. reset_usb_boot is 'U','B'; its arguments
 * are a GPIO mask for an activity LED (0: none) and the interfaces to disable (0: keep both the
 * mass-storage drive and PICOBOOT). It does not return: the watchdog reboots into BOOTSEL mode.
 * rp2040js has no ROM (it reads as zeros): then this says so on UART0 and returns.
 */
typedef void *(*rom_table_lookup_fn)(const uint16_t *table, uint32_t code);
typedef void (*reset_usb_boot_fn)(uint32_t gpio_activity_pin_mask, uint32_t disable_interface_mask);

static uint32_t rom_read16(uint32_t address) {
  /* through a register so the compiler sees no access to a tiny constant address */
  __asm__("" : "+r"(address));
  return *(const volatile uint16_t *)(uintptr_t)address;
}
static uint32_t rom_read8(uint32_t address) {
  __asm__("" : "+r"(address));
  return *(const volatile uint8_t *)(uintptr_t)address;
}

void usb_reboot_to_bootsel(void) {
  void *function = 0;
  if (rom_read8(0x10) == 'M' && rom_read8(0x11) == 'u' && rom_read8(0x12) == 1) {
    uint32_t table = rom_read16(0x14), lookup = rom_read16(0x18);
    if (table && lookup) function = ((rom_table_lookup_fn)(uintptr_t)lookup)((const uint16_t *)(uintptr_t)table, 'U' | ('B' << 8));
  }
  if (!function) {
    uart_puts("no bootrom: reboot to BOOTSEL not available\n");
    return;
  }
  ((reset_usb_boot_fn)function)(0, 0);
}
