/**
 * The RP2040's system clock (`build --target rp2040 --clock <MHz>`): which frequencies a build
 * accepts, and what each needs besides the PLL (src/plan/rp2040-pll.ts):
 *
 * - the core voltage: the datasheet rates the chip at 133 MHz with the regulator's default 1.10 V;
 *   above that the firmware raises it to 1.15 V (VREG.VSEL = 12) before clk_sys moves to the PLL,
 *   as the SDK does for its 200 MHz setting;
 * - the flash clock: boot2 divides clk_sys by a fixed SSI BAUDR (firmware/rp2040/boot2.S,
 *   SCLK_DIVISOR), and the flash must follow: the W25Q16JV (the Pico's) reads with 03h up to
 *   50 MHz and with the fast and quad commands (3Bh, EBh) up to 133 MHz;
 * - UART and USB: clk_peri follows clk_sys and the UART's divisor is computed from it (115200 baud
 *   at any clock); clk_usb stays on PLL_USB at 48 MHz.
 */
import { UserError } from '../util/errors.js';
import { pllSettings, type PllSettings } from './rp2040-pll.js';

export const DEFAULT_CLOCK_MHZ = 133;
export const MIN_CLOCK_MHZ = 125;
export const MAX_CLOCK_MHZ = 200;
/** The crystal on a Pico (XOSC). */
export const XOSC_HZ = 12_000_000;
/** Above this (the datasheet's rated clk_sys) the core voltage is raised. */
const RATED_CLOCK_HZ = 133_000_000;

/** Regulator output settings (VREG_AND_CHIP_RESET VREG.VSEL): the default and the raised one. */
export const VSEL_1_10V = 11;
export const VSEL_1_15V = 12;

export type Boot2Variant = 'safe' | 'fast' | 'quad';

/** boot2's SSI clock divisor (BAUDR) and the flash's limit for the read command it uses. */
export const FLASH_READ: Record<Boot2Variant, { sclkDivisor: number; maxSclkHz: number; command: string }> = {
  safe: { sclkDivisor: 4, maxSclkHz: 50_000_000, command: '03h Read Data' },
  fast: { sclkDivisor: 2, maxSclkHz: 133_000_000, command: '3Bh Fast Read Dual Output' },
  quad: { sclkDivisor: 2, maxSclkHz: 133_000_000, command: 'EBh Fast Read Quad I/O' },
};

export interface ClockSetup {
  clockHz: number;
  pll: PllSettings;
  /** VREG.VSEL: 11 (1.10 V, the reset value) or 12 (1.15 V). */
  vsel: number;
  coreVolts: number;
  flashSclkHz: number;
}

/** Checks a --clock value (MHz): a whole number from 125 to 200. Returns clk_sys in Hz. */
export function checkClockMHz(mhz: number): number {
  if (!Number.isInteger(mhz) || mhz < MIN_CLOCK_MHZ || mhz > MAX_CLOCK_MHZ) {
    throw new UserError(
      `--clock must be a whole number of MHz from ${MIN_CLOCK_MHZ} to ${MAX_CLOCK_MHZ} (the RP2040's rated ${DEFAULT_CLOCK_MHZ} MHz is the default; ` +
        `above it the firmware raises the core to 1.15 V), got ${mhz}.`,
      2,
    );
  }
  return mhz * 1_000_000;
}

/** What a firmware running clk_sys at `clockHz` sets up, with the flash read by `boot2`. */
export function clockSetup(clockHz: number, boot2: Boot2Variant): ClockSetup {
  const pll = pllSettings(clockHz, XOSC_HZ);
  if (!pll) throw new UserError(`no PLL setting gives exactly ${clockHz / 1e6} MHz from the 12 MHz crystal; choose another --clock.`, 2);
  const flash = FLASH_READ[boot2];
  const flashSclkHz = clockHz / flash.sclkDivisor;
  if (flashSclkHz > flash.maxSclkHz) {
    throw new UserError(
      `at --clock ${clockHz / 1e6} the ${boot2} boot2 clocks the flash at ${flashSclkHz / 1e6} MHz (clk_sys / ${flash.sclkDivisor}), ` +
        `above the ${flash.maxSclkHz / 1e6} MHz the W25Q16JV allows for ${flash.command}: lower --clock or choose another --boot2.`,
      2,
    );
  }
  const raised = clockHz > RATED_CLOCK_HZ;
  return { clockHz, pll, vsel: raised ? VSEL_1_15V : VSEL_1_10V, coreVolts: raised ? 1.15 : 1.1, flashSclkHz };
}

/** The firmware's compile-time clock settings (firmware/rp2040/clocks.c, rp2040.h). */
export function clockDefines(setup: ClockSetup): string[] {
  const { pll } = setup;
  return [
    `-DRP2040_CLK_SYS_HZ=${setup.clockHz}u`,
    `-DRP2040_PLL_SYS_REFDIV=${pll.refdiv}u`,
    `-DRP2040_PLL_SYS_FBDIV=${pll.fbdiv}u`,
    `-DRP2040_PLL_SYS_POSTDIV1=${pll.postdiv1}u`,
    `-DRP2040_PLL_SYS_POSTDIV2=${pll.postdiv2}u`,
    `-DRP2040_VREG_VSEL=${setup.vsel}u`,
  ];
}

/** One line for the build's report: the clock and what it takes. */
export function describeClock(setup: ClockSetup, boot2: Boot2Variant): string {
  const { pll } = setup;
  const mhz = (hz: number) => `${+(hz / 1e6).toFixed(2)} MHz`;
  return (
    `clk_sys ${mhz(setup.clockHz)}: PLL_SYS 12 MHz / ${pll.refdiv} × ${pll.fbdiv} = ${mhz(pll.vcoHz)} VCO, ÷ ${pll.postdiv1} ÷ ${pll.postdiv2}; ` +
    `core ${setup.coreVolts.toFixed(2)} V; flash SCLK ${mhz(setup.flashSclkHz)} (${boot2} boot2, ${FLASH_READ[boot2].command} up to ${mhz(FLASH_READ[boot2].maxSclkHz)})`
  );
}
