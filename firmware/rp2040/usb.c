/*
 * usb.c — the USB device: controller set-up, bus reset, endpoint 0 and its control transfers, the
 * standard requests and the descriptors (USB 2.0 chapter 9), and the interrupt handler. The CDC
 * serial port itself is usb_cdc.c. See usb.h for the overview; datasheet chapter 4.1.
 *
 * A control transfer, as endpoint 0 sees it:
 *   SETUP (8 bytes in DPRAM, SIE_STATUS.SETUP_REC) → [data stage: IN packets of ≤ 64 bytes, or
 *   one OUT packet] → status stage in the other direction (a zero-length packet), always DATA1.
 * ep0_state follows it. SET_ADDRESS takes effect only after its status stage (the host still talks
 * to address 0 until then).
 *
 * In rp2040js the controller is modelled at the level of buffers: an armed IN buffer is "sent" at
 * once (BUFF_STATUS is set on the write, the host side receives it 10 µs later) and an armed OUT
 * buffer is filled when the host side has data; bus states, the pull-up and data toggles are not
 * checked there. src/emulator/usb-cdc.ts is the host side the tests use.
 */
#include "rp2040.h"
#include "usb.h"

/* ---- descriptors -------------------------------------------------------------------------- */

static const uint8_t device_descriptor[18] = {
    18, 1,                                  /* bLength, DEVICE */
    0x00, 0x02,                             /* bcdUSB 2.00 */
    0xef, 0x02, 0x01,                       /* class: miscellaneous, common class, interface association */
    USB_EP0_PACKET,                         /* bMaxPacketSize0 */
    USB_VENDOR_ID & 0xff, USB_VENDOR_ID >> 8,
    USB_PRODUCT_ID & 0xff, USB_PRODUCT_ID >> 8,
    USB_DEVICE_RELEASE & 0xff, USB_DEVICE_RELEASE >> 8,
    1, 2, 3,                                /* iManufacturer, iProduct, iSerialNumber */
    1,                                      /* bNumConfigurations */
};

#define CONFIGURATION_BYTES 75u
static const uint8_t configuration_descriptor[CONFIGURATION_BYTES] = {
    9, 2, CONFIGURATION_BYTES, 0,           /* CONFIGURATION, wTotalLength */
    2, 1, 0,                                /* bNumInterfaces, bConfigurationValue, iConfiguration */
    0x80, 50,                               /* bus powered; 100 mA */
    /* Interface association: interfaces 0 and 1 are one CDC-ACM function. */
    8, 11, CDC_INTERFACE_COMM, 2, 0x02, 0x02, 0x00, 0,
    /* Interface 0: CDC communication, abstract control model, no AT commands; 1 endpoint. */
    9, 4, CDC_INTERFACE_COMM, 0, 1, 0x02, 0x02, 0x00, 4,
    5, 0x24, 0x00, 0x10, 0x01,              /* header functional descriptor: CDC 1.10 */
    5, 0x24, 0x01, 0x00, CDC_INTERFACE_DATA, /* call management: none; data interface 1 */
    4, 0x24, 0x02, 0x02,                    /* ACM: line coding and control line state requests */
    5, 0x24, 0x06, CDC_INTERFACE_COMM, CDC_INTERFACE_DATA, /* union: comm 0, data 1 */
    7, 5, 0x80 | CDC_EP_NOTIFY, USB_TRANSFER_INTERRUPT, CDC_NOTIFY_PACKET, 0, 16, /* EP1 IN, every 16 ms */
    /* Interface 1: CDC data; 2 bulk endpoints. */
    9, 4, CDC_INTERFACE_DATA, 0, 2, 0x0a, 0x00, 0x00, 0,
    7, 5, CDC_EP_DATA, USB_TRANSFER_BULK, USB_BULK_PACKET, 0, 0,         /* EP2 OUT */
    7, 5, 0x80 | CDC_EP_DATA, USB_TRANSFER_BULK, USB_BULK_PACKET, 0, 0,  /* EP2 IN */
};

static const uint8_t language_descriptor[4] = {4, 3, 0x09, 0x04}; /* English (United States) */

/* String descriptors 1.. (ASCII here, UTF-16LE on the wire); 3, the serial number, comes from usb_cdc.c. */
static const char *const strings[] = {
    0,
    "llama2-embed",                         /* 1 manufacturer */
    "llama2-embed on RP2040",               /* 2 product */
    0,                                      /* 3 serial number */
    "llama2-embed serial",                  /* 4 the CDC interface */
};
#define STRING_COUNT (sizeof strings / sizeof strings[0])

static uint8_t string_buffer[2 + 2 * 32];

static const uint8_t *string_descriptor(uint32_t index, uint32_t *length) {
  if (index == 0) {
    *length = sizeof language_descriptor;
    return language_descriptor;
  }
  if (index >= STRING_COUNT) return 0;
  const char *text = index == 3 ? usb_cdc_serial_number() : strings[index];
  uint32_t n = 0;
  while (text[n] && n < 32) {
    string_buffer[2 + 2 * n] = (uint8_t)text[n];
    string_buffer[3 + 2 * n] = 0;
    n++;
  }
  string_buffer[0] = (uint8_t)(2 + 2 * n);
  string_buffer[1] = 3;
  *length = 2 + 2 * n;
  return string_buffer;
}

/* ---- endpoint 0 --------------------------------------------------------------------------- */

enum ep0_state { EP0_IDLE, EP0_DATA_IN, EP0_DATA_OUT, EP0_STATUS_IN, EP0_STATUS_OUT };

static volatile enum ep0_state ep0_state;
static usb_setup_packet ep0_setup;        /* the request being served */
static const uint8_t *ep0_data;           /* IN data still to send */
static uint32_t ep0_remaining;
static int ep0_zero_length_end;           /* a short answer ending on a full packet needs a ZLP */
static uint32_t ep0_pid;                  /* DATA1 for the next EP0 packet? */
static uint32_t pending_address;          /* SET_ADDRESS, applied after the status stage */
static int class_request;                 /* the request being served is a class request */

void usb_buffer_control(uint32_t address, uint32_t value) {
  REG(address) = value & ~BUF_CTRL_AVAILABLE;
  /* clk_sys is up to 133 MHz, clk_usb 48 MHz: let the write reach the controller's clock domain. */
  __asm__ volatile("nop\n nop\n nop\n nop\n nop\n nop\n nop\n nop\n nop\n nop\n nop\n nop" ::: "memory");
  REG(address) = value;
}

static void ep0_send_packet(void) {
  uint32_t n = ep0_remaining < USB_EP0_PACKET ? ep0_remaining : USB_EP0_PACKET;
  volatile uint8_t *buffer = (volatile uint8_t *)USB_DPRAM_EP0_BUFFER;
  for (uint32_t i = 0; i < n; i++) buffer[i] = ep0_data[i];
  ep0_data += n;
  ep0_remaining -= n;
  usb_buffer_control(USB_DPRAM_EP_IN_BUFFER_CONTROL(0), n | BUF_CTRL_FULL | (ep0_pid ? BUF_CTRL_DATA1_PID : 0) | BUF_CTRL_AVAILABLE);
  ep0_pid ^= 1u;
}

void usb_ep0_send(const uint8_t *data, uint32_t length, uint32_t requested) {
  if (length > requested) length = requested;
  ep0_data = data;
  ep0_remaining = length;
  /* The host stops reading at wLength or at a short packet: an answer shorter than asked that
   * fills its last packet exactly needs a zero-length packet to end. */
  ep0_zero_length_end = length < requested && length % USB_EP0_PACKET == 0;
  ep0_state = EP0_DATA_IN;
  ep0_pid = 1;
  ep0_send_packet();
}

void usb_ep0_receive(void) {
  ep0_state = EP0_DATA_OUT;
  usb_buffer_control(USB_DPRAM_EP_OUT_BUFFER_CONTROL(0), USB_EP0_PACKET | BUF_CTRL_DATA1_PID | BUF_CTRL_AVAILABLE);
}

void usb_ep0_status(void) {
  ep0_state = EP0_STATUS_IN;
  usb_buffer_control(USB_DPRAM_EP_IN_BUFFER_CONTROL(0), BUF_CTRL_FULL | BUF_CTRL_DATA1_PID | BUF_CTRL_AVAILABLE);
}

static void ep0_stall(void) {
  /* EP_STALL_ARM lets the buffers' STALL bits act on EP0 until the next SETUP clears it. */
  REG(USB_EP_STALL_ARM) = USB_EP_STALL_ARM_EP0_IN | USB_EP_STALL_ARM_EP0_OUT;
  usb_buffer_control(USB_DPRAM_EP_IN_BUFFER_CONTROL(0), BUF_CTRL_STALL);
  usb_buffer_control(USB_DPRAM_EP_OUT_BUFFER_CONTROL(0), BUF_CTRL_STALL);
  ep0_state = EP0_IDLE;
}

/* The standard requests a CDC device must answer (USB 2.0, 9.4). Returns 0 to stall. */
static int standard_request(const usb_setup_packet *s) {
  static uint8_t reply[2];
  static uint8_t configuration;
  switch (s->bRequest) {
    case 6: { /* GET_DESCRIPTOR: type in the high byte of wValue, index in the low */
      uint32_t type = s->wValue >> 8, index = s->wValue & 0xffu, length = 0;
      const uint8_t *d = 0;
      if (type == 1) d = device_descriptor, length = sizeof device_descriptor;
      else if (type == 2 && index == 0) d = configuration_descriptor, length = sizeof configuration_descriptor;
      else if (type == 3) d = string_descriptor(index, &length);
      if (!d) return 0; /* device qualifier and others: not a high-speed device, stall */
      usb_ep0_send(d, length, s->wLength);
      return 1;
    }
    case 5: /* SET_ADDRESS */
      pending_address = s->wValue & 0x7fu;
      usb_ep0_status();
      return 1;
    case 9: /* SET_CONFIGURATION */
      if (s->wValue > 1) return 0;
      configuration = (uint8_t)s->wValue;
      usb_cdc_set_configured(configuration == 1);
      usb_ep0_status();
      return 1;
    case 8: /* GET_CONFIGURATION */
      reply[0] = configuration;
      usb_ep0_send(reply, 1, s->wLength);
      return 1;
    case 0: /* GET_STATUS: bus powered, no remote wake-up; no endpoint halted */
      reply[0] = reply[1] = 0;
      usb_ep0_send(reply, 2, s->wLength);
      return 1;
    case 10: /* GET_INTERFACE: one alternate setting each */
      reply[0] = 0;
      usb_ep0_send(reply, 1, s->wLength);
      return 1;
    case 11: /* SET_INTERFACE */
      if (s->wValue != 0) return 0;
      usb_ep0_status();
      return 1;
    case 1: /* CLEAR_FEATURE (ENDPOINT_HALT after a stall): nothing is halted */
    case 3: /* SET_FEATURE */
      usb_ep0_status();
      return 1;
    default: return 0;
  }
}

static void handle_setup(void) {
  volatile uint8_t *p = (volatile uint8_t *)USB_DPRAM_SETUP_PACKET;
  ep0_setup.bmRequestType = p[0];
  ep0_setup.bRequest = p[1];
  ep0_setup.wValue = (uint16_t)(p[2] | (p[3] << 8));
  ep0_setup.wIndex = (uint16_t)(p[4] | (p[5] << 8));
  ep0_setup.wLength = (uint16_t)(p[6] | (p[7] << 8));
  ep0_zero_length_end = 0;
  uint32_t type = (ep0_setup.bmRequestType >> 5) & 3u;
  class_request = type == 1;
  int handled = type == 0 ? standard_request(&ep0_setup) : type == 1 ? usb_cdc_class_request(&ep0_setup) : 0;
  if (!handled) ep0_stall();
}

static void ep0_in_done(void) {
  switch (ep0_state) {
    case EP0_DATA_IN:
      if (ep0_remaining > 0) {
        ep0_send_packet();
      } else if (ep0_zero_length_end) {
        ep0_zero_length_end = 0;
        ep0_send_packet(); /* zero bytes */
      } else {
        /* the host acknowledges with a zero-length OUT: the status stage */
        ep0_state = EP0_STATUS_OUT;
        usb_buffer_control(USB_DPRAM_EP_OUT_BUFFER_CONTROL(0), BUF_CTRL_DATA1_PID | BUF_CTRL_AVAILABLE);
      }
      break;
    case EP0_STATUS_IN:
      ep0_state = EP0_IDLE;
      if (pending_address) {
        REG(USB_ADDR_ENDP) = pending_address;
        pending_address = 0;
      }
      if (class_request) usb_cdc_class_done(&ep0_setup);
      break;
    default: break;
  }
}

static void ep0_out_done(void) {
  if (ep0_state == EP0_DATA_OUT) {
    uint32_t length = REG(USB_DPRAM_EP_OUT_BUFFER_CONTROL(0)) & BUF_CTRL_LENGTH_BITS;
    static uint8_t data[USB_EP0_PACKET];
    volatile uint8_t *buffer = (volatile uint8_t *)USB_DPRAM_EP0_BUFFER;
    if (length > USB_EP0_PACKET) length = USB_EP0_PACKET;
    for (uint32_t i = 0; i < length; i++) data[i] = buffer[i];
    if (class_request) usb_cdc_class_data(&ep0_setup, data, length);
    usb_ep0_status();
  } else if (ep0_state == EP0_STATUS_OUT) {
    ep0_state = EP0_IDLE;
  }
}

static void bus_reset(void) {
  REG(USB_ADDR_ENDP) = 0;
  pending_address = 0;
  ep0_state = EP0_IDLE;
  usb_cdc_bus_reset();
}

/* ---- the interrupt ------------------------------------------------------------------------ */

void USBCTRL_IRQ(void) {
  uint64_t entered = cycles_now();
  usb_stats.irqs++;
  uint32_t status = REG(USB_INTS);
  /* Finished buffers first: they belong to what happened before any new SETUP. */
  if (status & USB_INTS_BUFF_STATUS) {
    uint32_t done = REG(USB_BUFF_STATUS);
    REG(USB_BUFF_STATUS) = done; /* write 1 to clear */
    if (done & USB_BUFF_STATUS_EP_IN(0)) ep0_in_done();
    if (done & USB_BUFF_STATUS_EP_OUT(0)) ep0_out_done();
    if (done & ~3u) usb_cdc_buffers_done(done & ~3u);
  }
  if (status & USB_INTS_SETUP_REQ) {
    REG(USB_SIE_STATUS) = USB_SIE_STATUS_SETUP_REC;
    handle_setup();
  }
  if (status & USB_INTS_BUS_RESET) {
    REG(USB_SIE_STATUS) = USB_SIE_STATUS_BUS_RESET;
    bus_reset();
  }
  usb_stats.irq_cycles += cycles_now() - entered;
}

/* ---- set-up ------------------------------------------------------------------------------- */

void usb_device_init(void) {
  /* clk_usb (48 MHz) runs already (clocks.c). Reset the controller to a known state. */
  REG_SET(RESETS_RESET, RESETS_USBCTRL);
  resets_unreset(RESETS_USBCTRL);
  for (uint32_t offset = 0; offset < USB_DPRAM_BYTES; offset += 4) REG(USBCTRL_DPRAM_BASE + offset) = 0;

  /* The on-chip PHY, soft connect (the pull-up is ours to switch); VBUS taken as present: the
   * Pico is powered by the bus it talks to, and its VBUS sense pin is not wired to the controller. */
  REG(USB_USB_MUXING) = USB_USB_MUXING_TO_PHY | USB_USB_MUXING_SOFTCON;
  REG(USB_USB_PWR) = USB_USB_PWR_VBUS_DETECT | USB_USB_PWR_VBUS_DETECT_OVERRIDE_EN;
  REG(USB_MAIN_CTRL) = USB_MAIN_CTRL_CONTROLLER_EN; /* device mode */
  REG(USB_SIE_CTRL) = USB_SIE_CTRL_EP0_INT_1BUF;     /* an interrupt for every EP0 buffer */

  /* The CDC endpoints: buffers at 0x180 (EP1 IN), 0x1c0 (EP2 OUT), 0x200 (EP2 IN). */
  REG(USB_DPRAM_EP_IN_CONTROL(CDC_EP_NOTIFY)) =
      EP_CTRL_ENABLE | EP_CTRL_INTERRUPT_PER_BUFF | (USB_TRANSFER_INTERRUPT << EP_CTRL_ENDPOINT_TYPE_LSB) | 0x180u;
  REG(USB_DPRAM_EP_OUT_CONTROL(CDC_EP_DATA)) =
      EP_CTRL_ENABLE | EP_CTRL_INTERRUPT_PER_BUFF | (USB_TRANSFER_BULK << EP_CTRL_ENDPOINT_TYPE_LSB) | 0x1c0u;
  REG(USB_DPRAM_EP_IN_CONTROL(CDC_EP_DATA)) =
      EP_CTRL_ENABLE | EP_CTRL_INTERRUPT_PER_BUFF | (USB_TRANSFER_BULK << EP_CTRL_ENDPOINT_TYPE_LSB) | 0x200u;

  REG(USB_INTE) = USB_INTS_BUFF_STATUS | USB_INTS_BUS_RESET | USB_INTS_SETUP_REQ;
  REG(M0PLUS_NVIC_ICPR) = 1u << 5; /* USBCTRL_IRQ is IRQ 5 */
  REG(M0PLUS_NVIC_ISER) = 1u << 5;

  /* Connect: the pull-up on D+ tells the host a full-speed device is there. */
  REG_SET(USB_SIE_CTRL, USB_SIE_CTRL_PULLUP_EN);
}
