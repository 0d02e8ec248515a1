/**
 * The XIP_SSI model (src/emulator/ssi.ts) in front of the flash chip model, driven register by
 * register as the boot ROM and our boot2 variants drive it: direct-mode commands (with chip
 * select held only while the TX FIFO is refilled in time), and XIP reads that are right only when
 * the configuration matches the chip (instruction, lines, dummy cycles, Quad Enable).
 */
import { expect } from 'chai';
import { RP2040 } from 'rp2040js';
import { QspiFlash, SR2_QE, W25Q128JV, W25Q16JV, type FlashChipSpec } from '../../src/emulator/qspi-flash.js';
import { IoQspi } from '../../src/emulator/io-qspi.js';
import { SR_BUSY, SR_RFNE, SR_TFE, Ssi } from '../../src/emulator/ssi.js';
import { VregAndChipReset } from '../../src/emulator/vreg-chip-reset.js';

const CTRLR0 = 0x00;
const CTRLR1 = 0x04;
const SSIENR = 0x08;
const SER = 0x10;
const BAUDR = 0x14;
const SR = 0x28;
const DR0 = 0x60;
const SPI_CTRLR0 = 0xf4;

const CLK_SYS = 125e6;

function patterned(size: number): Uint8Array {
  const m = new Uint8Array(size);
  for (let i = 0; i < size; i++) m[i] = (i * 13 + (i >> 9) * 7 + 1) & 0xff;
  return m;
}

/** An SSI and a chip on a fake clock: `tick(ns)` moves time. */
function bench(spec: FlashChipSpec = W25Q16JV) {
  let now = 0;
  const memory = patterned(spec.capacityBytes);
  const chip: QspiFlash = new QspiFlash(spec, memory, () => ssi.chipTime); // asked once the SSI exists
  const ssi: Ssi = new Ssi(
    new RP2040(),
    chip,
    { nanos: () => now, clkSysHz: () => CLK_SYS },
    { drive: (on) => (on ? chip.select() : chip.deselect()) },
  );
  const s = ssi;
  const word = (a: number) => (memory[a] | (memory[a + 1] << 8) | (memory[a + 2] << 16) | (memory[a + 3] << 24)) >>> 0;
  return {
    ssi: s,
    chip,
    memory,
    word,
    tick: (ns: number) => (now += ns),
    write: (offset: number, value: number) => s.writeUint32(offset, value),
    read: (offset: number) => s.readUint32(offset),
    /** Polls SR until the transfer is over, as firmware does (a few cycles between polls). */
    waitIdle() {
      for (let i = 0; i < 100_000; i++) {
        const sr = s.readUint32(SR);
        if (sr & SR_TFE && !(sr & SR_BUSY)) return;
        now += 40;
      }
      throw new Error('the SSI never went idle');
    },
  };
}

type Bench = ReturnType<typeof bench>;

/** Standard SPI, 8-bit frames, transmit and receive (what the ROM and boot2 use for commands). */
function commandMode(b: Bench, baud = 4): void {
  b.write(SSIENR, 0);
  b.write(BAUDR, baud);
  b.write(CTRLR0, 7 << 16);
  b.write(SER, 1);
  b.write(SSIENR, 1);
}

/** One command: every byte pushed back to back, then the answers. */
function command(b: Bench, bytes: number[]): number[] {
  for (const byte of bytes) b.write(DR0, byte);
  b.waitIdle();
  return bytes.map(() => b.read(DR0));
}

/** XIP set-ups as boot2.S writes them. */
function xipSafe(b: Bench): void {
  b.write(SSIENR, 0);
  b.write(BAUDR, 4);
  b.write(CTRLR0, (31 << 16) | (3 << 8));
  b.write(CTRLR1, 0);
  b.write(SPI_CTRLR0, (0x03 << 24) | (2 << 8) | (6 << 2));
  b.write(SER, 1);
  b.write(SSIENR, 1);
}

function xipFast(b: Bench, waitCycles = 8): void {
  b.write(SSIENR, 0);
  b.write(BAUDR, 2);
  b.write(CTRLR0, (1 << 21) | (31 << 16) | (3 << 8));
  b.write(CTRLR1, 0);
  b.write(SPI_CTRLR0, (0x3b << 24) | (waitCycles << 11) | (2 << 8) | (6 << 2));
  b.write(SER, 1);
  b.write(SSIENR, 1);
}

/** The quad variant: set QE if needed, one EBh with mode bits A0h, then XIP with address + mode only. */
function xipQuad(b: Bench, setQuadEnable = true): void {
  commandMode(b, 2);
  if (setQuadEnable && !(command(b, [0x35, 0x35])[1] & SR2_QE)) {
    command(b, [0x06]);
    command(b, [0x01, 0x00, SR2_QE]);
    while (command(b, [0x05, 0x05])[1] & 1) b.tick(1e6);
  }
  b.write(SSIENR, 0);
  b.write(CTRLR0, (2 << 21) | (31 << 16) | (3 << 8));
  b.write(CTRLR1, 0);
  b.write(SPI_CTRLR0, (4 << 11) | (2 << 8) | (8 << 2) | 1);
  b.write(SSIENR, 1);
  b.write(DR0, 0xeb);
  b.write(DR0, 0xa0);
  b.waitIdle();
  b.read(DR0);
  b.write(SSIENR, 0);
  b.write(SPI_CTRLR0, (0xa0 << 24) | (4 << 11) | (0 << 8) | (8 << 2) | 2);
  b.write(SSIENR, 1);
}

describe('emulator/ssi: the XIP_SSI in front of the flash chip model', () => {
  it('sends direct-mode commands: 9Fh reads the JEDEC id of either chip', () => {
    for (const [spec, id] of [
      [W25Q16JV, 0x15],
      [W25Q128JV, 0x18],
    ] as const) {
      const b = bench(spec);
      commandMode(b);
      expect(command(b, [0x9f, 0, 0, 0]).slice(1)).to.deep.equal([0xef, 0x40, id]);
      expect(b.read(SR) & SR_RFNE).to.equal(0);
    }
  });

  it('keeps chip select low only while the TX FIFO is refilled in time: a late byte starts a new command', () => {
    const b = bench();
    commandMode(b);
    command(b, [0x06]); // WEL = 1: status register 1 reads 02h
    b.write(DR0, 0x05);
    b.write(DR0, 0x00);
    b.waitIdle();
    expect([b.read(DR0), b.read(DR0)]).to.deep.equal([0xff, 0x02]);
    b.write(DR0, 0x05);
    b.tick(10_000); // the first frame is long over: /CS rose
    b.write(DR0, 0x00); // an instruction 00h now, not a clock for the status
    b.waitIdle();
    expect([b.read(DR0), b.read(DR0)]).to.deep.equal([0xff, 0xff]);
  });

  it('reads 256 bytes with 03h as the boot ROM does, in 8-bit frames', () => {
    const b = bench();
    commandMode(b);
    const got: number[] = [];
    for (let a = 0; a < 256; a += 8) {
      got.push(...command(b, [0x03, 0, 0, a, 0, 0, 0, 0, 0, 0, 0, 0]).slice(4));
    }
    expect(got).to.deep.equal(Array.from(b.memory.subarray(0, 256)));
  });

  it('ignores CTRLR0, BAUDR and SPI_CTRLR0 writes while enabled, as silicon does', () => {
    const b = bench();
    xipSafe(b);
    b.write(CTRLR0, 0);
    b.write(BAUDR, 8);
    expect(b.read(CTRLR0)).to.equal((31 << 16) | (3 << 8));
    expect(b.read(BAUDR)).to.equal(4);
  });

  it('serves XIP reads for the safe (03h) and fast (3Bh dual, 8 dummy) set-ups, and checks them only once per change', () => {
    for (const setUp of [xipSafe, xipFast]) {
      const b = bench();
      setUp(b);
      let changes = 0;
      b.ssi.onXipChange = () => changes++;
      expect(b.ssi.xipRead32(0x1000)).to.equal(b.word(0x1000));
      expect(b.ssi.xipVerified).to.equal(true);
      expect(b.ssi.xipRead32(0x1ffffc)).to.equal(b.word(0x1ffffc));
      expect(b.ssi.xipRead32(0x200000)).to.equal(b.word(0)); // the 2 MB chip repeats in the 16 MB window
      expect(changes).to.equal(1);
      b.write(SSIENR, 0);
      expect(b.ssi.xipVerified).to.equal(false);
    }
  });

  it('reads wrong bytes over XIP when the dummy cycles do not match the instruction (3Bh with 4), as a board would', () => {
    const b = bench();
    xipFast(b, 4);
    expect(b.ssi.xipRead32(0x1000)).to.not.equal(b.word(0x1000));
    expect(b.ssi.xipVerified).to.equal(false);
  });

  it('serves XIP reads in quad continuous read mode (EBh, A0h) once Quad Enable is set; without it they read nothing', () => {
    const b = bench(W25Q128JV);
    xipQuad(b);
    expect(b.chip.status(2) & SR2_QE).to.equal(SR2_QE);
    expect(b.chip.continuousRead).to.equal(0xeb);
    expect(b.ssi.xipRead32(0xabcdc)).to.equal(b.word(0xabcdc));
    expect(b.ssi.xipVerified).to.equal(true);
    expect(b.ssi.xipRead32(0xfffffc)).to.equal(b.word(0xfffffc));
    expect(b.chip.continuousRead).to.equal(0xeb);

    const without = bench();
    xipQuad(without, false);
    expect(without.ssi.xipRead32(0x100)).to.equal(0xffffffff);
    expect(without.ssi.xipVerified).to.equal(false);
  });

  it('takes tW for the Quad Enable write: BUSY polls go on until the chip is done', () => {
    const b = bench();
    commandMode(b, 2);
    command(b, [0x06]);
    command(b, [0x01, 0x00, SR2_QE]);
    expect(command(b, [0x05, 0x05])[1] & 1).to.equal(1);
    b.tick(W25Q16JV.statusWriteNanos);
    expect(command(b, [0x05, 0x05])[1] & 1).to.equal(0);
    expect(command(b, [0x35, 0x35])[1]).to.equal(SR2_QE);
  });

  it('IO_QSPI: the SSI drives /CS only once QSPI_SS has FUNCSEL 0; OUTOVER 2 holds it low, 3 high', () => {
    const levels: boolean[] = [];
    const io = new IoQspi(new RP2040(), (selected) => levels.push(selected));
    const SS_CTRL = 0x0c;
    io.drive(true); // FUNCSEL 0x1f after reset: the pin is not the SSI's
    expect(levels).to.deep.equal([]);
    io.writeUint32(SS_CTRL, 0);
    expect(levels).to.deep.equal([true]);
    io.drive(false);
    io.writeUint32(SS_CTRL, 2 << 8);
    io.writeUint32(SS_CTRL, 3 << 8);
    expect(levels).to.deep.equal([true, false, true, false]);
    expect(io.readUint32(0x08) & (1 << 17)).to.equal(1 << 17); // SS_STATUS.INFROMPAD: high
  });

  it('VREG_AND_CHIP_RESET: CHIP_RESET reads HAD_POR only after power-on (no rescue request for the ROM)', () => {
    const chip = new VregAndChipReset(new RP2040());
    expect(chip.readUint32(0x8)).to.equal(1 << 8);
    expect(chip.readUint32(0x0)).to.equal(0xb1);
  });
});
