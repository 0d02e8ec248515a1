/*
 * rp2040.h — the RP2040 registers this firmware uses, and the runtime's API.
 *
 * Written from the RP2040 datasheet (chapter 2: address map, resets, clocks, XOSC, PLL, timer,
 * watchdog, IO/pads; chapter 4: UART). Register and field names are the datasheet's, so that
 * every line can be checked against it: `CLOCKS_CLK_SYS_CTRL` is the CLK_SYS_CTRL register of
 * the CLOCKS block. Only what the runtime touches is here.
 *
 * Build-time options (define with -D):
 *   RP2040_SKIP_CLOCKS   do not start XOSC/PLL_SYS; run from whatever clock the chip is on.
 *                        For emulation only: on silicon clk_peri stays off and the UART is dead.
 *   RP2040_CLK_SYS_HZ    the clk_sys frequency clocks.c sets up (default 133 MHz); with
 *                        RP2040_SKIP_CLOCKS, the frequency the UART divisor assumes
 *                        (default 125 MHz: rp2040js's clock before firmware sets one).
 *   RP2040_PLL_SYS_REFDIV, _FBDIV, _POSTDIV1, _POSTDIV2
 *                        PLL_SYS's dividers for RP2040_CLK_SYS_HZ (default 1, 133, 6, 2); the
 *                        build computes them for `--clock` (src/plan/rp2040-pll.ts).
 *   RP2040_VREG_VSEL     the core voltage (VREG.VSEL) clocks.c sets before clk_sys rises:
 *                        11 = 1.10 V (the reset value, left alone), 12 = 1.15 V (above 133 MHz).
 *   RP2040_UART_BAUD     UART0 baud rate (default 115200).
 *   RP2040_USE_ROM       allow calls into the boot ROM (none are made today). rp2040js has no
 *                        ROM image, so firmware built with it would hang in emulation.
 *                        (The one ROM call the runtime makes, reset_usb_boot for the USB
 *                        1200-baud touch in usb_cdc.c, checks at run time that a ROM is there.)
 */
#ifndef RP2040_H
#define RP2040_H

#include <stddef.h>
#include <stdint.h>

/* ---- configuration ------------------------------------------------------------------------ */

#define RP2040_XOSC_HZ 12000000u /* the Pico's crystal */

#ifndef RP2040_CLK_SYS_HZ
#ifdef RP2040_SKIP_CLOCKS
#define RP2040_CLK_SYS_HZ 125000000u
#else
#define RP2040_CLK_SYS_HZ 133000000u
#endif
#endif

/* clk_peri runs from clk_sys (CLK_PERI_CTRL.AUXSRC = clk_sys). */
#define RP2040_CLK_PERI_HZ RP2040_CLK_SYS_HZ

#ifndef RP2040_UART_BAUD
#define RP2040_UART_BAUD 115200u
#endif

/* ---- register access ---------------------------------------------------------------------- */

#define REG(address) (*(volatile uint32_t *)(uintptr_t)(address))

/* Every APB/AHB peripheral register has atomic aliases (datasheet 2.1.2): +0x1000 XOR,
 * +0x2000 set bits, +0x3000 clear bits. */
#define REG_ALIAS_XOR 0x1000u
#define REG_ALIAS_SET 0x2000u
#define REG_ALIAS_CLR 0x3000u
#define REG_SET(address, mask) (REG((address) + REG_ALIAS_SET) = (mask))
#define REG_CLR(address, mask) (REG((address) + REG_ALIAS_CLR) = (mask))

/* ---- address map (datasheet 2.2) ---------------------------------------------------------- */

#define XIP_BASE 0x10000000u
#define XIP_SSI_BASE 0x18000000u
#define SRAM_BASE 0x20000000u
#define SRAM_END 0x20042000u
#define CLOCKS_BASE 0x40008000u
#define RESETS_BASE 0x4000c000u
#define IO_BANK0_BASE 0x40014000u
#define PADS_BANK0_BASE 0x4001c000u
#define PADS_QSPI_BASE 0x40020000u
#define XOSC_BASE 0x40024000u
#define PLL_SYS_BASE 0x40028000u
#define PLL_USB_BASE 0x4002c000u
#define UART0_BASE 0x40034000u
#define UART1_BASE 0x40038000u
#define TIMER_BASE 0x40054000u
#define WATCHDOG_BASE 0x40058000u
#define VREG_AND_CHIP_RESET_BASE 0x40064000u
#define PPB_BASE 0xe0000000u

/* ---- RESETS (2.14) ------------------------------------------------------------------------ */

#define RESETS_RESET (RESETS_BASE + 0x0u)
#define RESETS_RESET_DONE (RESETS_BASE + 0x8u)
#define RESETS_IO_BANK0 (1u << 5)
#define RESETS_PADS_BANK0 (1u << 8)
#define RESETS_PLL_SYS (1u << 12)
#define RESETS_PLL_USB (1u << 13)
#define RESETS_TIMER (1u << 21)
#define RESETS_UART0 (1u << 22)
#define RESETS_UART1 (1u << 23)
#define RESETS_USBCTRL (1u << 24)

/* ---- CLOCKS (2.15) ------------------------------------------------------------------------ */

#define CLOCKS_CLK_REF_CTRL (CLOCKS_BASE + 0x30u)
#define CLOCKS_CLK_REF_DIV (CLOCKS_BASE + 0x34u)
#define CLOCKS_CLK_REF_SELECTED (CLOCKS_BASE + 0x38u)
#define CLOCKS_CLK_SYS_CTRL (CLOCKS_BASE + 0x3cu)
#define CLOCKS_CLK_SYS_DIV (CLOCKS_BASE + 0x40u)
#define CLOCKS_CLK_SYS_SELECTED (CLOCKS_BASE + 0x44u)
#define CLOCKS_CLK_PERI_CTRL (CLOCKS_BASE + 0x48u)
#define CLOCKS_CLK_USB_CTRL (CLOCKS_BASE + 0x54u)
#define CLOCKS_CLK_USB_DIV (CLOCKS_BASE + 0x58u)
#define CLOCKS_CLK_SYS_RESUS_CTRL (CLOCKS_BASE + 0x78u)

#define CLK_REF_CTRL_SRC_ROSC_CLKSRC_PH 0x0u
#define CLK_REF_CTRL_SRC_XOSC_CLKSRC 0x2u
#define CLK_REF_CTRL_SRC_BITS 0x3u
#define CLK_SYS_CTRL_SRC_CLK_REF 0x0u
#define CLK_SYS_CTRL_SRC_CLKSRC_CLK_SYS_AUX 0x1u
#define CLK_SYS_CTRL_SRC_BITS 0x1u
#define CLK_SYS_CTRL_AUXSRC_LSB 5
#define CLK_SYS_CTRL_AUXSRC_BITS (0x7u << 5)
#define CLK_SYS_CTRL_AUXSRC_CLKSRC_PLL_SYS 0x0u
#define CLK_PERI_CTRL_ENABLE (1u << 11)
#define CLK_PERI_CTRL_AUXSRC_LSB 5
#define CLK_PERI_CTRL_AUXSRC_CLK_SYS 0x0u
#define CLK_USB_CTRL_ENABLE (1u << 11)
#define CLK_USB_CTRL_AUXSRC_LSB 5
#define CLK_USB_CTRL_AUXSRC_CLKSRC_PLL_USB 0x0u
#define CLK_DIV_INT_LSB 8 /* CLK_x_DIV: INT in bits 31:8 (clk_ref: 9:8), FRAC in 7:0 */

/* ---- XOSC (2.16) -------------------------------------------------------------------------- */

#define XOSC_CTRL (XOSC_BASE + 0x00u)
#define XOSC_STATUS (XOSC_BASE + 0x04u)
#define XOSC_STARTUP (XOSC_BASE + 0x0cu)
#define XOSC_CTRL_FREQ_RANGE_1_15MHZ 0xaa0u
#define XOSC_CTRL_ENABLE_LSB 12
#define XOSC_CTRL_ENABLE_ENABLE 0xfabu
#define XOSC_STATUS_STABLE (1u << 31)

/* ---- PLL (2.18) --------------------------------------------------------------------------- */

#define PLL_CS 0x0u
#define PLL_PWR 0x4u
#define PLL_FBDIV_INT 0x8u
#define PLL_PRIM 0xcu
#define PLL_CS_LOCK (1u << 31)
#define PLL_PWR_PD (1u << 0)
#define PLL_PWR_DSMPD (1u << 2)
#define PLL_PWR_POSTDIVPD (1u << 3)
#define PLL_PWR_VCOPD (1u << 5)
#define PLL_PRIM_POSTDIV1_LSB 16
#define PLL_PRIM_POSTDIV2_LSB 12

/* ---- VREG_AND_CHIP_RESET (2.10): the core's voltage regulator ------------------------------ */

#define VREG_AND_CHIP_RESET_VREG (VREG_AND_CHIP_RESET_BASE + 0x0u)
#define VREG_EN (1u << 0)
#define VREG_HIZ (1u << 1)
#define VREG_VSEL_LSB 4
#define VREG_VSEL_BITS (0xfu << 4)
#define VREG_ROK (1u << 12) /* regulation status: the output is in regulation */

/* ---- WATCHDOG (4.7): its tick generator clocks the timer ----------------------------------- */

#define WATCHDOG_TICK (WATCHDOG_BASE + 0x2cu)
#define WATCHDOG_TICK_ENABLE (1u << 9)

/* ---- TIMER (4.6) -------------------------------------------------------------------------- */

#define TIMER_TIMEHR (TIMER_BASE + 0x08u)
#define TIMER_TIMELR (TIMER_BASE + 0x0cu)
#define TIMER_TIMERAWH (TIMER_BASE + 0x24u)
#define TIMER_TIMERAWL (TIMER_BASE + 0x28u)

/* ---- IO_BANK0 / PADS_BANK0 (2.19) --------------------------------------------------------- */

#define IO_BANK0_GPIO_CTRL(n) (IO_BANK0_BASE + 8u * (n) + 4u)
#define GPIO_CTRL_FUNCSEL_UART 2u
#define PADS_BANK0_GPIO(n) (PADS_BANK0_BASE + 4u + 4u * (n))
#define PADS_OD (1u << 7)
#define PADS_IE (1u << 6)
#define PADS_DRIVE_4MA (1u << 4)
#define PADS_PUE (1u << 3)
#define PADS_PDE (1u << 2)
#define PADS_SCHMITT (1u << 1)

/* ---- UART (4.2, an ARM PL011) ------------------------------------------------------------- */

#define UARTDR 0x000u
#define UARTFR 0x018u
#define UARTIBRD 0x024u
#define UARTFBRD 0x028u
#define UARTLCR_H 0x02cu
#define UARTCR 0x030u
#define UARTIMSC 0x038u
#define UARTFR_TXFE (1u << 7)
#define UARTIMSC_RXIM (1u << 4) /* receive interrupt (FIFO at its trigger level) */
#define UARTIMSC_RTIM (1u << 6) /* receive timeout (data waits, the line idle for 32 bit periods) */
#define UARTFR_TXFF (1u << 5)
#define UARTFR_RXFE (1u << 4)
#define UARTFR_BUSY (1u << 3)
#define UARTLCR_H_WLEN_8 (3u << 5)
#define UARTLCR_H_FEN (1u << 4)
#define UARTCR_RXE (1u << 9)
#define UARTCR_TXE (1u << 8)
#define UARTCR_UARTEN (1u << 0)

/* ---- PPB: SysTick, SCB (Cortex-M0+ system registers) -------------------------------------- */

#define M0PLUS_SYST_CSR (PPB_BASE + 0xe010u)
#define M0PLUS_SYST_RVR (PPB_BASE + 0xe014u)
#define M0PLUS_SYST_CVR (PPB_BASE + 0xe018u)
#define M0PLUS_ICSR (PPB_BASE + 0xed04u)
#define M0PLUS_VTOR (PPB_BASE + 0xed08u)
#define SYST_CSR_ENABLE (1u << 0)
#define SYST_CSR_TICKINT (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2) /* 1: the processor clock */
#define ICSR_PENDSTSET (1u << 26)
#define M0PLUS_NVIC_ISER (PPB_BASE + 0xe100u)
#define M0PLUS_NVIC_ICER (PPB_BASE + 0xe180u)
#define M0PLUS_NVIC_ICPR (PPB_BASE + 0xe280u)
#define IRQ_USBCTRL 5u
#define IRQ_UART0 20u
#define SYSTICK_MAX 0x00ffffffu

/* ---- SIO: the hardware divider (2.3.1.5), one per core ---------------------------------------- */

#define SIO_BASE 0xd0000000u
#define SIO_DIV_UDIVIDEND (SIO_BASE + 0x060u)
#define SIO_DIV_UDIVISOR (SIO_BASE + 0x064u)
#define SIO_DIV_SDIVIDEND (SIO_BASE + 0x068u)
#define SIO_DIV_SDIVISOR (SIO_BASE + 0x06cu)
#define SIO_DIV_QUOTIENT (SIO_BASE + 0x070u)
#define SIO_DIV_REMAINDER (SIO_BASE + 0x074u)
#define SIO_DIV_CSR (SIO_BASE + 0x078u)
#define SIO_DIV_CSR_READY (1u << 0)

/* ---- interrupts ----------------------------------------------------------------------------- */

/* Masks interrupts (cpsid i) and returns PRIMASK as it was, for interrupts_restore: nests. */
static inline uint32_t interrupts_off(void) {
  uint32_t primask;
  __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask) : : "memory");
  return primask;
}

static inline void interrupts_restore(uint32_t primask) { __asm__ volatile("msr primask, %0" : : "r"(primask) : "memory"); }

/* ---- the runtime's API -------------------------------------------------------------------- */

/* crt0.S / runtime.c */
void runtime_init(void);                   /* called by the reset handler before main() */
void rp2040_exit(int code) __attribute__((noreturn));
void resets_unreset(uint32_t mask);        /* takes peripherals out of reset, waits for RESET_DONE */

/* clocks.c */
void clocks_init(void);                    /* XOSC 12 MHz → PLL_SYS → clk_sys, clk_peri; clk_ref = XOSC; PLL_USB → clk_usb 48 MHz */
uint32_t clocks_sys_hz(void);              /* the frequency clk_sys was set to (RP2040_CLK_SYS_HZ) */

/* uart.c: UART0 on GP0 (TX) / GP1 (RX), 8N1 */
void uart_init(uint32_t baud);
void uart_putc(uint8_t c);                 /* blocks while the TX FIFO is full */
void uart_write(const uint8_t *data, size_t length);
void uart_puts(const char *text);          /* text as is: no newline added, no CR inserted */
int uart_getc(void);                       /* next received byte, or -1 if none (never blocks) */
void uart_flush(void);                     /* waits until every byte has left the shift register */

/* print.c: numbers over the UART without printf */
void print_str(const char *text);
void print_u32(uint32_t value);
void print_i32(int32_t value);
void print_u64(uint64_t value);
void print_hex32(uint32_t value);          /* 8 lower-case hex digits, no prefix */

/* timer.c */
uint64_t timer_us(void);                   /* microseconds since boot (TIMER, 64 bits) */
uint32_t timer_us32(void);                 /* the low 32 bits, without latching */
void cycles_init(void);                    /* SysTick on the processor clock, counting wraps */
uint64_t cycles_now(void);                 /* processor clock cycles since cycles_init() */

#endif
