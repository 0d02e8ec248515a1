/**
 * Booting as the chip boots (src/emulator/rp2040.ts with LoadOptions.bootRom): the RP2040 boot
 * ROM reads boot2 from the flash chip model over the SSI model, checks its CRC and runs it, and
 * boot2's SSI set-up decides whether the firmware can run from flash. Each boot2 variant boots
 * with both chips; a bad CRC ends in the ROM's USB boot mode and a boot2 with the wrong dummy
 * cycles reads garbage, as on a board. The ROM image comes from ../shared/rp2040 (not committed).
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkBootRom, defaultBootRomPath, readBootRom } from '../../src/emulator/boot-rom.js';
import { W25Q128JV, W25Q16JV } from '../../src/emulator/qspi-flash.js';
import { BOOT2_SRAM_ENTRY, BootFailure, EmulatorError, Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { BOOT2_BYTES, BOOT2_VARIANTS, buildBoot2, firmwareDir } from '../../src/firmware-image/boot2.js';
import { bootOptions } from '../../src/emulator/emulate.js';
import { UserError } from '../../src/util/errors.js';
import { tempDir } from '../helpers/fixtures.js';
import { assemblyImage } from '../helpers/rp2040-program.js';
import { needs, requireBootRom } from '../helpers/needs.js';

/** Reads the vector table's first word through XIP (cached alias, then uncached 0x13…), then stops with r1 = 42. */
const PROGRAM = `
    ldr r0, =0x10000100
    ldr r0, [r0]
    ldr r2, =0x13000100
    ldr r2, [r2]
    movs r1, #42
    bkpt #0
`;

/** What the XIP cache model charges a line fill with each boot2 (test/emulator/xip-cache.spec.ts). */
const LINE_FILL = { safe: 384, fast: 144, quad: 56 };

describe('emulator/rp2040: booting through the boot ROM', function () {
  needs('arm-none-eabi-gcc');
  this.timeout(120_000);
  let rom: Uint8Array;
  before(function () {
    requireBootRom(this);
    rom = readBootRom();
  });

  it('refuses a file that is not the boot ROM, saying where the ROM is expected', () => {
    expect(() => checkBootRom(rom.subarray(0, 1024), 'x.bin')).to.throw(UserError, /1024 bytes.*16384.*bootrom-b1\.bin/);
    const wrong = Uint8Array.from(rom);
    wrong[0x11] = 0;
    expect(() => checkBootRom(wrong, 'x.bin')).to.throw(UserError, /not an RP2040 boot ROM.*4d 00 01.*--no-bootrom/);
    expect(() => readBootRom('/nonexistent/bootrom.bin')).to.throw(UserError, /no RP2040 boot ROM image at \/nonexistent/);
    expect(defaultBootRomPath()).to.match(/shared\/rp2040\/bootrom-b1\.bin$/);
  });

  it('flash --emulate boots through the ROM unless told --no-bootrom', () => {
    expect(bootOptions(undefined).bootRom).to.deep.equal(rom);
    expect(bootOptions(true).bootRom).to.deep.equal(rom);
    expect(bootOptions(false)).to.deep.equal({});
  });

  for (const variant of BOOT2_VARIANTS) {
    for (const chip of [W25Q16JV, W25Q128JV]) {
      it(`boots boot2 "${variant}" from a ${chip.name}: the ROM starts it from SRAM, and the firmware runs from flash`, async () => {
        const image = assemblyImage(PROGRAM, variant);
        const emu = Rp2040Emulator.fromImage(image, 0x10000000, { bootRom: rom, flashChip: chip });
        expect(emu.mcu.core.PC).to.equal((rom[4] | (rom[5] << 8) | (rom[6] << 16)) & ~1); // the ROM's reset vector, Thumb bit cleared
        const result = await emu.run({ maxCycles: 5e6, maxSeconds: 30 });
        expect(result.reason).to.equal('break');
        expect(emu.mcu.core.registers[1]).to.equal(42);
        expect(result.exitCode! >>> 0).to.equal(image.readUInt32LE(BOOT2_BYTES)); // the initial SP, read through XIP
        expect(emu.mcu.core.registers[2] >>> 0).to.equal(image.readUInt32LE(BOOT2_BYTES)); // and through the uncached alias
        expect(emu.boot).to.include({ chip: chip.name, xipVerified: true });
        expect(emu.boot!.boot2StartCycles).to.be.greaterThan(1000);
      });
    }
  }

  it("keeps the XIP cache model's figures: a line fill is priced from the SSI registers boot2 left, as with the old start", async () => {
    for (const variant of BOOT2_VARIANTS) {
      const emu = Rp2040Emulator.fromImage(assemblyImage(PROGRAM, variant), 0x10000000, { bootRom: rom, xipModel: true });
      expect((await emu.run({ maxCycles: 5e6, maxSeconds: 30 })).reason).to.equal('break');
      expect(emu.xipReport!.lineFill?.cycles, variant).to.equal(LINE_FILL[variant]);
      expect(emu.xipReport!.uncached).to.equal(1);
    }
  });

  it(`ends with a clear message when boot2's CRC is bad: the ROM falls back to USB boot (it never reaches ${BOOT2_SRAM_ENTRY.toString(16)})`, async () => {
    const image = assemblyImage(PROGRAM, 'safe');
    image[8] ^= 1;
    const emu = Rp2040Emulator.fromImage(image, 0x10000000, { bootRom: rom });
    let error: unknown;
    try {
      await emu.run({ maxCycles: 50e6, maxSeconds: 60 });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(BootFailure);
    expect(error).to.be.instanceOf(EmulatorError);
    expect((error as Error).message).to.match(/did not find a valid boot2 .* fell back to USB boot/);
    expect(emu.boot!.boot2StartCycles).to.equal(undefined);
  });

  it('runs a boot2 whose dummy cycles do not match its read command, and the firmware reads garbage, as on a board', async () => {
    const { dir, cleanup } = tempDir('llama2-embed-boot2-');
    try {
      // the fast variant (3Bh, which needs 8 dummy clocks) with 4
      const source = readFileSync(join(firmwareDir(), 'boot2.S'), 'utf8');
      const wrong = source.replace(/(#elif defined\(BOOT2_FAST\)[\s\S]*?#define DUMMY_CYCLES\s+)8/, '$14');
      expect(wrong).to.not.equal(source);
      writeFileSync(join(dir, 'boot2.S'), wrong);
      const image = assemblyImage(PROGRAM, 'fast');
      buildBoot2({ variant: 'fast', source: join(dir, 'boot2.S') }).copy(image, 0);
      const emu = Rp2040Emulator.fromImage(image, 0x10000000, { bootRom: rom });
      let ranProgram = false;
      try {
        const result = await emu.run({ maxCycles: 2e6, maxSeconds: 30 });
        ranProgram = result.reason === 'break' && emu.mcu.core.registers[1] === 42;
      } catch (err) {
        expect(err).to.be.instanceOf(EmulatorError); // garbage instructions
      }
      expect(ranProgram).to.equal(false);
      expect(emu.boot!.boot2StartCycles).to.be.a('number'); // the ROM did start boot2: its CRC is right
      expect(emu.boot!.xipVerified).to.equal(false);
    } finally {
      cleanup();
    }
  });

  it('refuses an image larger than the chip it is given (by default it takes the smallest that holds the image)', () => {
    const image = new Uint8Array(W25Q16JV.capacityBytes + 4);
    expect(() => Rp2040Emulator.fromImage(image, 0x10000000, { bootRom: rom, flashChip: W25Q16JV })).to.throw(
      UserError,
      /more than the 2 MB of the board's W25Q16JV/,
    );
  });
});
