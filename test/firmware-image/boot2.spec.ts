import { expect } from 'chai';
import { boot2Crc, BOOT2_BYTES, buildBoot2, checkBoot2, crc32Mpeg2, padBoot2 } from '../../src/firmware-image/boot2.js';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { needs, requireNeeds } from '../helpers/needs.js';

/** The SSI register values each variant must program, from the datasheet's field layout (4.10.13). */
const CTRLR0 = (spiFrf: number) => (spiFrf << 21) | (31 << 16) | (3 << 8); // SPI_FRF, DFS_32 = 31, TMOD = EEPROM_READ
const SPI_CTRLR0 = (command: number, waitCycles: number) => ((command << 24) | (waitCycles << 11) | (2 << 8) | (6 << 2) | 0) >>> 0; // INST_L 8b, ADDR_L 24b, 1C1A
const EXPECTED = {
  safe: { ctrlr0: CTRLR0(0), spiCtrlr0: SPI_CTRLR0(0x03, 0), baudr: 4, rxSampleDelay: 0 },
  fast: { ctrlr0: CTRLR0(1), spiCtrlr0: SPI_CTRLR0(0x3b, 8), baudr: 2, rxSampleDelay: 1 },
  // continuous read: no command (INST_L 0), mode bits A0h as XIP_CMD after a 32-bit address + mode, 4 dummy, all on four lines (2C2A)
  quad: { ctrlr0: CTRLR0(2), spiCtrlr0: ((0xa0 << 24) | (4 << 11) | (0 << 8) | (8 << 2) | 2) >>> 0, baudr: 2, rxSampleDelay: 1 },
} as const;

function words(image: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i + 4 <= image.length; i += 4) out.push(image.readUInt32LE(i));
  return out;
}

/** boot2, then a vector table at 0x100 whose reset vector is a `bkpt #42` at 0x180, and a `bkpt #7` at 0x190. */
function bootImage(boot2: Buffer): Buffer {
  const image = Buffer.alloc(0x200, 0xff);
  boot2.copy(image, 0);
  image.writeUInt32LE(0x20041000, 0x100); // initial SP
  image.writeUInt32LE(0x10000181, 0x104); // reset handler (Thumb)
  image.writeUInt16LE(0xbe2a, 0x180); // bkpt #42
  image.writeUInt16LE(0xbe07, 0x190); // bkpt #7
  return image;
}

describe('flash/boot2', () => {
  it('computes CRC-32/MPEG-2: the check value of "123456789" is 0x0376E6E7', () => {
    expect(crc32Mpeg2(Buffer.from('123456789'))).to.equal(0x0376e6e7);
    expect(crc32Mpeg2(Buffer.alloc(0))).to.equal(0xffffffff);
    // Incremental computation gives the same result.
    expect(crc32Mpeg2(Buffer.from('6789'), crc32Mpeg2(Buffer.from('12345')))).to.equal(0x0376e6e7);
  });

  it('pads boot2 to 252 bytes with zeros and appends the CRC of those 252 bytes, little-endian', () => {
    const code = Buffer.from([1, 2, 3, 4, 5]);
    const image = padBoot2(code);
    expect(image.length).to.equal(BOOT2_BYTES);
    expect(image.subarray(0, 5).equals(code)).to.equal(true);
    expect(image.subarray(5, 252).every((b) => b === 0)).to.equal(true);
    expect(image.readUInt32LE(252)).to.equal(crc32Mpeg2(image.subarray(0, 252)));
    expect(boot2Crc(image).ok).to.equal(true);
    expect(() => padBoot2(Buffer.alloc(253))).to.throw(/253 bytes but must fit in 252/);
  });

  it('tells a good boot2 CRC from a bad one, in a whole flash image too', () => {
    const image = Buffer.concat([padBoot2(Buffer.from('boot code')), Buffer.alloc(1000, 0xaa)]);
    expect(() => checkBoot2(image)).not.to.throw();
    image[3] ^= 1;
    const check = boot2Crc(image);
    expect(check.ok).to.equal(false);
    expect(check.stored).not.to.equal(check.computed);
    expect(() => checkBoot2(image)).to.throw(/bad boot2 CRC .*boot ROM would refuse to start it/);
    expect(() => checkBoot2(Buffer.alloc(100))).to.throw(/must start with 256 bytes of boot2/);
  });

  for (const variant of ['safe', 'fast', 'quad'] as const) {
    describe(`the ${variant} variant`, () => {
      needs('arm-none-eabi-gcc');
      let boot2: Buffer;
      before(() => {
        boot2 = buildBoot2({ variant });
      });

      it('assembles to at most 252 bytes, followed by a CRC the boot ROM accepts', () => {
        expect(boot2.length).to.equal(256);
        expect(boot2Crc(boot2).ok).to.equal(true);
      });

      it("carries the datasheet's SSI settings for XIP in its literal pool", () => {
        const pool = words(boot2);
        expect(pool).to.include(EXPECTED[variant].ctrlr0);
        expect(pool).to.include(EXPECTED[variant].spiCtrlr0);
        expect(pool).to.include(0x18000000); // XIP_SSI_BASE
        expect(pool).to.include(0x10000100); // the vector table
        expect(pool).to.include(0xe000ed08); // VTOR
      });

      it('runs in the emulator: programs the SSI, then sets VTOR and MSP and jumps to the reset vector', async () => {
        const emu = Rp2040Emulator.fromImage(bootImage(boot2));
        const result = await emu.run({ maxCycles: 10_000, maxSeconds: 10 });
        expect(result.reason).to.equal('break');
        expect(result.breakCode).to.equal(42);
        expect(emu.mcu.core.VTOR).to.equal(0x10000100);
        expect(emu.mcu.core.SP).to.equal(0x20041000);
        const ssi = (offset: number) => emu.mcu.readUint32(0x18000000 + offset) >>> 0;
        expect(ssi(0x00)).to.equal(EXPECTED[variant].ctrlr0);
        expect(ssi(0xf4)).to.equal(EXPECTED[variant].spiCtrlr0);
        expect(ssi(0x14)).to.equal(EXPECTED[variant].baudr);
        expect(ssi(0xf0)).to.equal(EXPECTED[variant].rxSampleDelay);
        expect(ssi(0x04)).to.equal(0); // CTRLR1.NDF: one frame per access
        expect(ssi(0x08)).to.equal(1); // SSIENR: enabled last
      });

      it('returns to its caller when called as a function (LR != 0)', async () => {
        const emu = Rp2040Emulator.fromImage(bootImage(boot2));
        emu.mcu.core.LR = 0x10000191;
        const result = await emu.run({ maxCycles: 10_000, maxSeconds: 10 });
        expect(result.breakCode).to.equal(7);
        expect(emu.mcu.core.VTOR).to.equal(0);
      });
    });
  }

  it('the emulator refuses an image whose boot2 CRC is wrong, as the boot ROM would', function () {
    requireNeeds(this, 'arm-none-eabi-gcc');
    const image = bootImage(buildBoot2());
    image[0] ^= 0xff;
    expect(() => Rp2040Emulator.fromImage(image)).to.throw(/bad boot2 CRC/);
    expect(() => Rp2040Emulator.fromImage(image, undefined, { skipBoot2Check: true })).not.to.throw();
  });
});
