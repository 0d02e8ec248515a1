/*
 * clocks.c — from the ring oscillator the chip wakes up on to a 133 MHz system clock (or the
 * build's --clock: RP2040_CLK_SYS_HZ and RP2040_PLL_SYS_*, computed by src/plan/rp2040-pll.ts).
 *
 *   XOSC 12 MHz ──► PLL_SYS: REFDIV 1, FBDIV 133 → VCO 1596 MHz, POSTDIV1 6, POSTDIV2 2 → 133 MHz
 *   clk_ref  ← XOSC, ÷1 (12 MHz): drives the watchdog tick, hence the 1 µs TIMER
 *   clk_sys  ← PLL_SYS through the auxiliary mux, ÷1 (133 MHz)
 *   clk_peri ← clk_sys (133 MHz): the UART's clock, so its divisor follows RP2040_CLK_SYS_HZ
 *   XOSC 12 MHz ──► PLL_USB: REFDIV 1, FBDIV 100 → VCO 1200 MHz, POSTDIV1 5, POSTDIV2 5 → 48 MHz
 *   clk_usb  ← PLL_USB, ÷1 (48 MHz): the USB controller's clock (usb.c), which USB full speed
 *              needs exactly (12 Mbit/s = 48 MHz / 4), whatever clk_sys is
 *
 * The PLL values respect the datasheet's limits (2.18.2): reference ≥ 5 MHz, FBDIV 16..320, VCO
 * 750..1600 MHz, POSTDIV1 ≥ POSTDIV2. Other frequencies: `build --clock`, which passes
 * RP2040_CLK_SYS_HZ and RP2040_PLL_SYS_* (e.g. 200 MHz: FBDIV 100, VCO 1200 MHz, POSTDIV1 6,
 * POSTDIV2 1). Above the rated 133 MHz the core voltage goes to 1.15 V first (RP2040_VREG_VSEL),
 * while clk_sys still runs from the reference clock.
 *
 * Order matters (2.15.3): clk_sys and clk_ref are moved off anything the PLL or XOSC drives
 * before those are touched; the auxiliary source of clk_sys is chosen while clk_sys still runs
 * from clk_ref (that is what keeps its mux glitchless); clk_peri, which has no glitchless mux,
 * is stopped before its source changes.
 *
 * In rp2040js this runs as written: XOSC, PLL_SYS and CLOCKS are modelled (the PLL locks at
 * once), and the emulator derives its clk_sys and clk_peri from these registers. ROSC is not
 * modelled, so nothing here touches it. Build with -DRP2040_SKIP_CLOCKS to leave clocks alone.
 */
#include "rp2040.h"

#ifndef RP2040_PLL_SYS_REFDIV /* 12 MHz × 133 = 1596 MHz VCO, ÷ 6 ÷ 2 = 133 MHz */
#define RP2040_PLL_SYS_REFDIV 1u
#define RP2040_PLL_SYS_FBDIV 133u
#define RP2040_PLL_SYS_POSTDIV1 6u
#define RP2040_PLL_SYS_POSTDIV2 2u
#endif
#define PLL_REFDIV RP2040_PLL_SYS_REFDIV
#define PLL_FBDIV RP2040_PLL_SYS_FBDIV
#define PLL_POSTDIV1 RP2040_PLL_SYS_POSTDIV1
#define PLL_POSTDIV2 RP2040_PLL_SYS_POSTDIV2

#ifndef RP2040_VREG_VSEL
#define RP2040_VREG_VSEL 11u /* 1.10 V, the regulator's reset value */
#endif
#if !defined(RP2040_SKIP_CLOCKS) && RP2040_CLK_SYS_HZ > 133000000u && RP2040_VREG_VSEL < 12u
#error "clk_sys above 133 MHz needs the core at 1.15 V or more (RP2040_VREG_VSEL 12)"
#endif

#if !defined(RP2040_SKIP_CLOCKS) && (RP2040_XOSC_HZ / PLL_REFDIV * PLL_FBDIV / (PLL_POSTDIV1 * PLL_POSTDIV2)) != RP2040_CLK_SYS_HZ
#error "PLL_SYS settings do not give RP2040_CLK_SYS_HZ: change both together"
#endif

/* PLL_USB: 12 MHz × 100 = 1200 MHz VCO, ÷ 5 ÷ 5 = 48 MHz (the datasheet's suggested USB setting). */
#define PLL_USB_REFDIV 1u
#define PLL_USB_FBDIV 100u
#define PLL_USB_POSTDIV1 5u
#define PLL_USB_POSTDIV2 5u
#if (RP2040_XOSC_HZ / PLL_USB_REFDIV * PLL_USB_FBDIV / (PLL_USB_POSTDIV1 * PLL_USB_POSTDIV2)) != 48000000u
#error "PLL_USB must give 48 MHz"
#endif

uint32_t clocks_sys_hz(void) { return RP2040_CLK_SYS_HZ; }

static void xosc_start(void) {
  /* Start-up delay, in units of 256 crystal periods: about 1 ms. */
  REG(XOSC_STARTUP) = (RP2040_XOSC_HZ / 1000u + 255u) / 256u;
  /* One write of both fields: ENABLE never holds a value other than ENABLE/DISABLE (BADWRITE). */
  REG(XOSC_CTRL) = XOSC_CTRL_FREQ_RANGE_1_15MHZ | (XOSC_CTRL_ENABLE_ENABLE << XOSC_CTRL_ENABLE_LSB);
  while (!(REG(XOSC_STATUS) & XOSC_STATUS_STABLE)) {
  }
}

/* Resets a PLL (PLL_SYS or PLL_USB: the same registers at another base), programs it and waits for lock. */
static void pll_start(uint32_t base, uint32_t reset_bit, uint32_t refdiv, uint32_t fbdiv, uint32_t postdiv1, uint32_t postdiv2) {
  REG_SET(RESETS_RESET, reset_bit);
  resets_unreset(reset_bit);
  REG(base + PLL_CS) = refdiv;
  REG(base + PLL_FBDIV_INT) = fbdiv;
  /* Power up the PLL and its VCO, and wait for lock. */
  REG_CLR(base + PLL_PWR, PLL_PWR_PD | PLL_PWR_VCOPD);
  while (!(REG(base + PLL_CS) & PLL_CS_LOCK)) {
  }
  /* Then the post dividers. */
  REG(base + PLL_PRIM) = (postdiv1 << PLL_PRIM_POSTDIV1_LSB) | (postdiv2 << PLL_PRIM_POSTDIV2_LSB);
  REG_CLR(base + PLL_PWR, PLL_PWR_POSTDIVPD);
}

/*
 * Sets the core voltage (VREG.VSEL) and waits until it has settled: ROK (in regulation), then
 * about 1 ms more. This runs while clk_sys is on clk_ref from the ring oscillator (at most about
 * 12 MHz), so 4,000 turns of a loop of several cycles last more than 1 ms. rp2040js has no regulator (the
 * write is ignored, with a warning; ROK reads as set).
 */
static void vreg_set(uint32_t vsel) {
  uint32_t vreg = REG(VREG_AND_CHIP_RESET_VREG);
  if (((vreg & VREG_VSEL_BITS) >> VREG_VSEL_LSB) == vsel) return;
  REG(VREG_AND_CHIP_RESET_VREG) = (vreg & (VREG_EN | VREG_HIZ)) | (vsel << VREG_VSEL_LSB); /* EN, HIZ kept */
  while (!(REG(VREG_AND_CHIP_RESET_VREG) & VREG_ROK)) {
  }
  for (volatile int i = 0; i < 4000; i++) {
  }
}

static void pll_sys_start(void) { pll_start(PLL_SYS_BASE, RESETS_PLL_SYS, PLL_REFDIV, PLL_FBDIV, PLL_POSTDIV1, PLL_POSTDIV2); }

void clocks_init(void) {
  REG(CLOCKS_CLK_SYS_RESUS_CTRL) = 0; /* no clock-stopped detection */
  xosc_start();

  /* clk_sys ← clk_ref, clk_ref ← ROSC: off the sources about to change. */
  REG_CLR(CLOCKS_CLK_SYS_CTRL, CLK_SYS_CTRL_SRC_BITS);
  while (REG(CLOCKS_CLK_SYS_SELECTED) != (1u << CLK_SYS_CTRL_SRC_CLK_REF)) {
  }
  REG_CLR(CLOCKS_CLK_REF_CTRL, CLK_REF_CTRL_SRC_BITS);
  while (REG(CLOCKS_CLK_REF_SELECTED) != (1u << CLK_REF_CTRL_SRC_ROSC_CLKSRC_PH)) {
  }

  /* the core voltage before the clock that needs it */
  if (RP2040_VREG_VSEL != 11u) vreg_set(RP2040_VREG_VSEL);

  pll_sys_start();

  /* clk_ref ← XOSC ÷ 1. */
  REG(CLOCKS_CLK_REF_DIV) = 1u << CLK_DIV_INT_LSB;
  REG(CLOCKS_CLK_REF_CTRL) = CLK_REF_CTRL_SRC_XOSC_CLKSRC;
  while (REG(CLOCKS_CLK_REF_SELECTED) != (1u << CLK_REF_CTRL_SRC_XOSC_CLKSRC)) {
  }

  /* clk_sys ← PLL_SYS ÷ 1: choose the auxiliary source first, then switch to it. */
  REG(CLOCKS_CLK_SYS_DIV) = 1u << CLK_DIV_INT_LSB;
  REG(CLOCKS_CLK_SYS_CTRL) = (CLK_SYS_CTRL_AUXSRC_CLKSRC_PLL_SYS << CLK_SYS_CTRL_AUXSRC_LSB) | CLK_SYS_CTRL_SRC_CLK_REF;
  REG(CLOCKS_CLK_SYS_CTRL) = (CLK_SYS_CTRL_AUXSRC_CLKSRC_PLL_SYS << CLK_SYS_CTRL_AUXSRC_LSB) | CLK_SYS_CTRL_SRC_CLKSRC_CLK_SYS_AUX;
  while (REG(CLOCKS_CLK_SYS_SELECTED) != (1u << CLK_SYS_CTRL_SRC_CLKSRC_CLK_SYS_AUX)) {
  }

  /* clk_peri ← clk_sys: stop it, let the stop propagate (a few cycles of the old source),
   * then restart it from the new one. */
  REG(CLOCKS_CLK_PERI_CTRL) = 0;
  for (volatile int i = 0; i < 8; i++) {
  }
  REG(CLOCKS_CLK_PERI_CTRL) = CLK_PERI_CTRL_ENABLE | (CLK_PERI_CTRL_AUXSRC_CLK_SYS << CLK_PERI_CTRL_AUXSRC_LSB);

  /* clk_usb ← PLL_USB ÷ 1 = 48 MHz. Nothing runs from clk_usb yet (the USB controller is held in
   * reset until usb_cdc_init), and it has no glitchless mux: stop it, start the PLL, restart it. */
  REG(CLOCKS_CLK_USB_CTRL) = 0;
  pll_start(PLL_USB_BASE, RESETS_PLL_USB, PLL_USB_REFDIV, PLL_USB_FBDIV, PLL_USB_POSTDIV1, PLL_USB_POSTDIV2);
  REG(CLOCKS_CLK_USB_DIV) = 1u << CLK_DIV_INT_LSB;
  REG(CLOCKS_CLK_USB_CTRL) = CLK_USB_CTRL_ENABLE | (CLK_USB_CTRL_AUXSRC_CLKSRC_PLL_USB << CLK_USB_CTRL_AUXSRC_LSB);

  /* The watchdog's tick generator divides clk_ref down to 1 MHz for the TIMER. */
  REG(WATCHDOG_TICK) = WATCHDOG_TICK_ENABLE | (RP2040_XOSC_HZ / 1000000u);
}
