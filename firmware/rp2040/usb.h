/*
 * usb.h — the RP2040's USB controller as a full-speed device with one function: a CDC-ACM serial
 * port (what a computer shows as /dev/ttyACM0, /dev/tty.usbmodem…, COM3). Written from the RP2040
 * datasheet, chapter 4.1 (USB); register and field names are the datasheet's: `USB_SIE_CTRL` is
 * the SIE_CTRL register of the USBCTRL_REGS block, `USB_DPRAM_EP0_IN_BUFFER_CONTROL` the
 * EP0_IN_BUFFER_CONTROL word of the controller's dual-port RAM.
 *
 * Two files:
 *   usb.c      the device: controller set-up, bus reset, endpoint 0 (control transfers), the
 *              standard requests and the descriptors, the interrupt handler (USBCTRL_IRQ);
 *   usb_cdc.c  the serial port: CDC class requests (line coding, control line state, the
 *              1200-baud touch), the bulk IN/OUT endpoints and their ring buffers, the serial
 *              number from the flash's unique ID.
 *
 * Interrupt driven: everything USB happens in USBCTRL_IRQ, so the host is answered within
 * microseconds even while the main loop spends ~130 ms (17 M cycles) on one forward pass.
 * The application sees two ring buffers:
 *
 *   usb_cdc_init();                       after runtime_init (clk_usb is set up by clocks.c)
 *   usb_cdc_write(bytes, n);              queued; sent as 64-byte bulk packets by the interrupt
 *   int c = usb_cdc_getc();               -1 when nothing was received (never blocks)
 *   if (usb_cdc_dtr()) …                  a program on the computer has the port open
 *
 * Endpoints: EP0 control (64 bytes); EP1 IN interrupt (CDC notifications, 16 bytes, never used
 * to send: nothing requires it); EP2 OUT and EP2 IN bulk (64 bytes, single buffered).
 */
#ifndef USB_H
#define USB_H

#include <stddef.h>
#include <stdint.h>

/* ---- USBCTRL_REGS (4.1.4) ----------------------------------------------------------------- */

#define USBCTRL_DPRAM_BASE 0x50100000u
#define USBCTRL_REGS_BASE 0x50110000u

#define USB_ADDR_ENDP (USBCTRL_REGS_BASE + 0x00u)
#define USB_MAIN_CTRL (USBCTRL_REGS_BASE + 0x40u)
#define USB_SIE_CTRL (USBCTRL_REGS_BASE + 0x4cu)
#define USB_SIE_STATUS (USBCTRL_REGS_BASE + 0x50u)
#define USB_BUFF_STATUS (USBCTRL_REGS_BASE + 0x58u)
#define USB_EP_STALL_ARM (USBCTRL_REGS_BASE + 0x68u)
#define USB_USB_MUXING (USBCTRL_REGS_BASE + 0x74u)
#define USB_USB_PWR (USBCTRL_REGS_BASE + 0x78u)
#define USB_INTR (USBCTRL_REGS_BASE + 0x8cu)
#define USB_INTE (USBCTRL_REGS_BASE + 0x90u)
#define USB_INTS (USBCTRL_REGS_BASE + 0x98u)

#define USB_MAIN_CTRL_CONTROLLER_EN (1u << 0)
#define USB_SIE_CTRL_EP0_INT_1BUF (1u << 29)
#define USB_SIE_CTRL_PULLUP_EN (1u << 16)
#define USB_SIE_STATUS_BUS_RESET (1u << 19)
#define USB_SIE_STATUS_SETUP_REC (1u << 17)
#define USB_EP_STALL_ARM_EP0_IN (1u << 0)
#define USB_EP_STALL_ARM_EP0_OUT (1u << 1)
#define USB_USB_MUXING_SOFTCON (1u << 3)
#define USB_USB_MUXING_TO_PHY (1u << 0)
#define USB_USB_PWR_VBUS_DETECT_OVERRIDE_EN (1u << 3)
#define USB_USB_PWR_VBUS_DETECT (1u << 2)
#define USB_INTS_SETUP_REQ (1u << 16)
#define USB_INTS_BUS_RESET (1u << 12)
#define USB_INTS_BUFF_STATUS (1u << 4)
/* BUFF_STATUS: bit 2n = EPn IN, bit 2n + 1 = EPn OUT */
#define USB_BUFF_STATUS_EP_IN(n) (1u << (2u * (n)))
#define USB_BUFF_STATUS_EP_OUT(n) (1u << (2u * (n) + 1u))

/* ---- USB DPRAM (4.1.2.5) ------------------------------------------------------------------ */

/* The last SETUP packet, 8 bytes at the start of DPRAM. */
#define USB_DPRAM_SETUP_PACKET (USBCTRL_DPRAM_BASE + 0x00u)
/* Endpoint control words (EP1..EP15, IN then OUT): not for EP0, which is fixed. */
#define USB_DPRAM_EP_IN_CONTROL(n) (USBCTRL_DPRAM_BASE + 0x08u + 8u * ((n) - 1u))
#define USB_DPRAM_EP_OUT_CONTROL(n) (USBCTRL_DPRAM_BASE + 0x0cu + 8u * ((n) - 1u))
/* Buffer control words (EP0..EP15, IN then OUT). */
#define USB_DPRAM_EP_IN_BUFFER_CONTROL(n) (USBCTRL_DPRAM_BASE + 0x80u + 8u * (n))
#define USB_DPRAM_EP_OUT_BUFFER_CONTROL(n) (USBCTRL_DPRAM_BASE + 0x84u + 8u * (n))
/* EP0's buffer, shared by IN and OUT (a control transfer goes one way at a time). */
#define USB_DPRAM_EP0_BUFFER (USBCTRL_DPRAM_BASE + 0x100u)
/* Data buffers are 64-byte aligned, from 0x180 to the end of the 4 KB DPRAM. */
#define USB_DPRAM_BUFFERS (USBCTRL_DPRAM_BASE + 0x180u)
#define USB_DPRAM_BYTES 4096u

#define EP_CTRL_ENABLE (1u << 31)
#define EP_CTRL_DOUBLE_BUFFERED (1u << 30)
#define EP_CTRL_INTERRUPT_PER_BUFF (1u << 29)
#define EP_CTRL_ENDPOINT_TYPE_LSB 26
#define EP_CTRL_BUFFER_ADDRESS_BITS 0xffffu /* offset from the DPRAM's base */

#define BUF_CTRL_FULL (1u << 15)
#define BUF_CTRL_LAST (1u << 14)
#define BUF_CTRL_DATA1_PID (1u << 13)
#define BUF_CTRL_STALL (1u << 11)
#define BUF_CTRL_AVAILABLE (1u << 10)
#define BUF_CTRL_LENGTH_BITS 0x3ffu

/* ---- USB 2.0 chapter 9 and CDC 1.2 constants ---------------------------------------------- */

#define USB_TRANSFER_CONTROL 0u
#define USB_TRANSFER_BULK 2u
#define USB_TRANSFER_INTERRUPT 3u
#define USB_EP0_PACKET 64u
#define USB_BULK_PACKET 64u

/* The vendor and product ids: Raspberry Pi's, product 0x000a, which Raspberry Pi allocates to
 * "Raspberry Pi Pico SDK CDC UART" and offers for any RP2040 program whose only interface is a
 * standard CDC serial port (github.com/raspberrypi/usb-pid): hosts then treat the board as a Pico
 * running a USB-serial program (flash's 1200-baud touch, monitor's port detection). The product
 * string tells llama2-embed's firmware apart. */
#define USB_VENDOR_ID 0x2e8au
#define USB_PRODUCT_ID 0x000au
#define USB_DEVICE_RELEASE 0x0100u /* bcdDevice 1.00 */

/* The CDC interfaces and endpoints (usb.c's configuration descriptor, usb_cdc.c's transfers). */
#define CDC_INTERFACE_COMM 0u
#define CDC_INTERFACE_DATA 1u
#define CDC_EP_NOTIFY 1u /* IN, interrupt */
#define CDC_EP_DATA 2u   /* OUT and IN, bulk */
#define CDC_NOTIFY_PACKET 16u

/* ---- between usb.c and usb_cdc.c ---------------------------------------------------------- */

typedef struct {
  uint8_t bmRequestType;
  uint8_t bRequest;
  uint16_t wValue;
  uint16_t wIndex;
  uint16_t wLength;
} usb_setup_packet;

/* usb.c → usb_cdc.c (called in the interrupt) */
void usb_cdc_bus_reset(void);                  /* the host reset the bus: forget the configuration */
void usb_cdc_set_configured(int configured);   /* SET_CONFIGURATION 1 (or 0) */
/* A class request on EP0. Returns 1 if handled (its reply started with usb_ep0_*), 0 to stall. */
int usb_cdc_class_request(const usb_setup_packet *setup);
/* The OUT data of a class request (SET_LINE_CODING) arrived. */
void usb_cdc_class_data(const usb_setup_packet *setup, const uint8_t *data, uint32_t length);
/* The status stage of a class request completed (the host has the answer). */
void usb_cdc_class_done(const usb_setup_packet *setup);
/* Bulk/interrupt endpoints: the BUFF_STATUS bits of EP1..EP15 that completed. */
void usb_cdc_buffers_done(uint32_t buff_status);
/* The serial number string, 16 hex digits of the flash's unique id (or a fallback). */
const char *usb_cdc_serial_number(void);

/* usb_cdc.c → usb.c: answers on EP0 (from the interrupt) */
void usb_ep0_send(const uint8_t *data, uint32_t length, uint32_t requested); /* data stage IN, then status */
void usb_ep0_receive(void);                    /* data stage OUT (up to 64 bytes), then status */
void usb_ep0_status(void);                     /* no data stage: zero-length status IN */
/* Writes a buffer control word the way the datasheet asks: everything but AVAILABLE first, then,
 * after clk_sys / clk_usb cycles, AVAILABLE with it (4.1.2.5.1). */
void usb_buffer_control(uint32_t address, uint32_t value);
void usb_device_init(void);                    /* resets the controller, enables it and the pull-up */

/* ---- the application's API (usb_cdc.c) ---------------------------------------------------- */

void usb_cdc_init(void);                       /* reads the serial number, then usb_device_init() */
int usb_cdc_configured(void);                  /* the host enumerated the device and chose its configuration */
int usb_cdc_dtr(void);                         /* … and a program has the port open (DTR set) */
uint32_t usb_cdc_baud(void);                   /* the host's line coding (meaningless for USB but reported) */
/* Queues bytes for the host. While the port is open (DTR) it waits for room in the ring; while
 * it is not, what does not fit is dropped (and counted): a board nobody listens to never hangs.
 * Returns the bytes queued. */
size_t usb_cdc_write(const uint8_t *data, size_t length);
int usb_cdc_getc(void);                        /* next received byte, or -1 (never blocks) */
int usb_cdc_readable(void);                    /* a received byte waits (usb_cdc_getc would not return -1) */
size_t usb_cdc_pending(void);                  /* bytes queued and not yet handed to the controller */

typedef struct {
  uint32_t irqs;          /* USBCTRL_IRQ entries */
  uint64_t irq_cycles;    /* processor cycles spent in USBCTRL_IRQ (SysTick), entry and exit included approximately */
  uint32_t in_packets;    /* bulk IN packets sent */
  uint32_t out_packets;   /* bulk OUT packets received */
  uint32_t dropped;       /* bytes dropped because the port was closed and the ring full */
  uint32_t bootsel_requests; /* 1200-baud touches seen */
} usb_cdc_stats;
extern volatile usb_cdc_stats usb_stats;

/* Reboots into the boot ROM's USB mass-storage mode (BOOTSEL) through its reset_usb_boot. Returns
 * only if the chip has no boot ROM to call (rp2040js), after saying so on UART0. */
void usb_reboot_to_bootsel(void);

#endif
