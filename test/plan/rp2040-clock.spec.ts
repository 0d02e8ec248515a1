import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  checkClockMHz,
  clockDefines,
  clockSetup,
  describeClock,
  FLASH_READ,
  MAX_CLOCK_MHZ,
  MIN_CLOCK_MHZ,
} from '../../src/plan/rp2040-clock.js';
import { PLL_LIMITS, pllSettings, pllViolations } from '../../src/plan/rp2040-pll.js';
import { projectRoot } from '../../src/util/project-root.js';
import { UserError } from '../../src/util/errors.js';

/** Every exact setting, by brute force over the datasheet's ranges. */
function allSettings(outputHz: number, referenceHz = 12_000_000) {
  const found = [];
  for (let refdiv = 1; refdiv <= 63; refdiv++) {
    for (let fbdiv = 16; fbdiv <= 320; fbdiv++) {
      for (let postdiv1 = 1; postdiv1 <= 7; postdiv1++) {
        for (let postdiv2 = 1; postdiv2 <= 7; postdiv2++) {
          const vcoHz = (referenceHz / refdiv) * fbdiv;
          const s = { refdiv, fbdiv, postdiv1, postdiv2, vcoHz, outputHz };
          if (vcoHz / (postdiv1 * postdiv2) === outputHz && pllViolations(s, referenceHz).length === 0) found.push(s);
        }
      }
    }
  }
  return found;
}

describe('plan/rp2040-pll: PLL_SYS settings from the datasheet constraints (2.18.2)', () => {
  it("133 MHz: REFDIV 1, FBDIV 133, VCO 1596 MHz, POSTDIV1 6, POSTDIV2 2 (the firmware's default)", () => {
    expect(pllSettings(133_000_000)).to.deep.equal({
      refdiv: 1,
      fbdiv: 133,
      postdiv1: 6,
      postdiv2: 2,
      vcoHz: 1_596_000_000,
      outputHz: 133_000_000,
    });
  });

  it('200 MHz: REFDIV 1, FBDIV 100, VCO 1200 MHz, POSTDIV1 6, POSTDIV2 1', () => {
    expect(pllSettings(200_000_000)).to.deep.equal({
      refdiv: 1,
      fbdiv: 100,
      postdiv1: 6,
      postdiv2: 1,
      vcoHz: 1_200_000_000,
      outputHz: 200_000_000,
    });
  });

  it('125 MHz: VCO 1500 MHz ÷ 6 ÷ 2', () => {
    expect(pllSettings(125_000_000)).to.include({ refdiv: 1, fbdiv: 125, postdiv1: 6, postdiv2: 2 });
  });

  it('every MHz from 125 to 200 has a setting within the constraints, the highest VCO of all exact ones', function () {
    this.timeout(60_000);
    for (let mhz = MIN_CLOCK_MHZ; mhz <= MAX_CLOCK_MHZ; mhz++) {
      const s = pllSettings(mhz * 1e6);
      expect(s, `${mhz} MHz`).to.not.equal(undefined);
      expect(pllViolations(s!), `${mhz} MHz`).to.deep.equal([]);
      expect(s!.vcoHz / (s!.postdiv1 * s!.postdiv2)).to.equal(mhz * 1e6);
      const highest = Math.max(...allSettings(mhz * 1e6).map((a) => a.vcoHz));
      expect(s!.vcoHz, `${mhz} MHz`).to.equal(highest);
    }
  });

  it('says what breaks a constraint, and finds nothing where no exact setting exists', () => {
    expect(pllViolations({ refdiv: 3, fbdiv: 400, postdiv1: 1, postdiv2: 2, vcoHz: 1_600_000_000, outputHz: 800_000_000 })).to.have.members(
      ['FREF / REFDIV = 4000000 Hz is below 5 MHz', 'FBDIV 400 is not 16..320', 'POSTDIV1 is below POSTDIV2'],
    );
    expect(pllSettings(1_700_000_000)).to.equal(undefined); // above the VCO's range even with no division
    expect(pllSettings(10_000_000)).to.equal(undefined); // 49 × 10 MHz is below the VCO's 750 MHz
    expect(PLL_LIMITS.maxVcoHz).to.equal(1_600_000_000);
  });
});

describe('plan/rp2040-clock: the --clock option', () => {
  it('accepts whole MHz from 125 to 200 and refuses anything else with a usage error', () => {
    expect(checkClockMHz(125)).to.equal(125e6);
    expect(checkClockMHz(200)).to.equal(200e6);
    for (const bad of [124, 201, 133.5, NaN, -133]) {
      expect(() => checkClockMHz(bad), String(bad)).to.throw(UserError, /--clock must be a whole number of MHz from 125 to 200/);
    }
  });

  it("raises the core to 1.15 V above 133 MHz only; keeps the flash within the W25Q16JV's limits", () => {
    expect(clockSetup(133e6, 'safe')).to.include({ vsel: 11, coreVolts: 1.1, flashSclkHz: 33.25e6 });
    expect(clockSetup(200e6, 'safe')).to.include({ vsel: 12, coreVolts: 1.15, flashSclkHz: 50e6 });
    expect(clockSetup(200e6, 'quad')).to.include({ flashSclkHz: 100e6 });
    expect(() => clockSetup(204e6, 'safe')).to.throw(UserError, /51 MHz .* above the 50 MHz the W25Q16JV allows for 03h Read Data/);
    expect(clockDefines(clockSetup(200e6, 'fast'))).to.deep.equal([
      '-DRP2040_CLK_SYS_HZ=200000000u',
      '-DRP2040_PLL_SYS_REFDIV=1u',
      '-DRP2040_PLL_SYS_FBDIV=100u',
      '-DRP2040_PLL_SYS_POSTDIV1=6u',
      '-DRP2040_PLL_SYS_POSTDIV2=1u',
      '-DRP2040_VREG_VSEL=12u',
    ]);
  });

  it("describes itself for the build's report", () => {
    expect(describeClock(clockSetup(200e6, 'safe'), 'safe')).to.equal(
      'clk_sys 200 MHz: PLL_SYS 12 MHz / 1 × 100 = 1200 MHz VCO, ÷ 6 ÷ 1; core 1.15 V; flash SCLK 50 MHz (safe boot2, 03h Read Data up to 50 MHz)',
    );
    expect(describeClock(clockSetup(133e6, 'quad'), 'quad')).to.match(
      /^clk_sys 133 MHz: .* = 1596 MHz VCO, ÷ 6 ÷ 2; core 1\.10 V; flash SCLK 66\.5 MHz/,
    );
  });

  it('knows the SSI divisor boot2.S programs for each variant', () => {
    const boot2 = readFileSync(join(projectRoot(), 'firmware', 'rp2040', 'boot2.S'), 'utf8');
    // the three branches of the variant's #if, in order: quad, fast, safe
    const divisors = [...boot2.matchAll(/#define SCLK_DIVISOR\s+(\d+)/g)].map((m) => Number(m[1]));
    expect(divisors).to.deep.equal([FLASH_READ.quad.sclkDivisor, FLASH_READ.fast.sclkDivisor, FLASH_READ.safe.sclkDivisor]);
  });
});
