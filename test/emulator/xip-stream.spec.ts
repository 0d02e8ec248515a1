/**
 * The XIP stream FIFO (src/emulator/xip-stream.ts) and the paced DMA (src/emulator/dma-pacing.ts):
 * at the register level on a bare rp2040js (words land at the wire's pace, two in the FIFO, DREQ
 * follows its level, STREAM_CTR = 0 halts, a core miss waits for the word on the wire and the
 * stream resumes after the cooldown), then in the harness with tiny firmwares: a DMA channel paced
 * by DREQ_XIP_STREAM copies flash into SRAM, gets the flash's bytes and takes the modelled cycles.
 */
import { expect } from 'chai';
import { Simulator } from 'rp2040js';
import { readBootRom } from '../../src/emulator/boot-rom.js';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { STREAM_COOLDOWN_CYCLES, XIP_AUX_BASE, XIP_CTRL_BASE, XipStream } from '../../src/emulator/xip-stream.js';
import type { Boot2Variant } from '../../src/firmware-image/boot2.js';
import { assemblyImage } from '../helpers/rp2040-program.js';
import { needs, requireBootRom } from '../helpers/needs.js';

const STAT = XIP_CTRL_BASE + 0x08;
const STREAM_ADDR = XIP_CTRL_BASE + 0x14;
const STREAM_CTR = XIP_CTRL_BASE + 0x18;
const STREAM_FIFO = XIP_CTRL_BASE + 0x1c;
/** STAT: FLUSH_READY | FIFO_EMPTY, FLUSH_READY | FIFO_FULL, FLUSH_READY alone (one word). */
const EMPTY = 3;
const FULL = 5;
const ONE = 1;
/** Cycles a stream word takes in the register-level tests. */
const W = 40;

/** A bare rp2040js (125 MHz: 8 ns a cycle) with the stream installed; flash word at offset o reads o * 3 + 1. */
function rig() {
  const simulator = new Simulator();
  const mcu = simulator.rp2040;
  const state = { dreq: false, flushes: 0, hits: 5, accesses: 9 };
  const stream = XipStream.install(mcu, {
    readWord: (offset) => offset * 3 + 1,
    wordCycles: () => W,
    setDreq: (asserted) => (state.dreq = asserted),
    flushCache: () => state.flushes++,
    cacheCounts: () => ({ hits: state.hits, accesses: state.accesses }),
  });
  const cycles = (n: number) => simulator.clock.tick((n * 1e9) / mcu.clkSys);
  return { mcu, stream, state, cycles, nanos: () => simulator.clock.nanos };
}

describe('emulator/xip-stream: the XIP stream FIFO and the paced DMA', () => {
  it('streams a word every wire transfer into a 2-deep FIFO (XIP_CTRL and XIP_AUX), with DREQ while it holds data', () => {
    const { mcu, state, cycles } = rig();
    expect(mcu.readUint32(STAT)).to.equal(EMPTY);
    mcu.writeUint32(STREAM_ADDR, 0x10000102); // bits 1:0 read as 0
    expect(mcu.readUint32(STREAM_ADDR)).to.equal(0x10000100);
    mcu.writeUint32(STREAM_CTR, 5);
    cycles(W - 1);
    expect([mcu.readUint32(STAT), state.dreq]).to.deep.equal([EMPTY, false]);
    cycles(1);
    expect([mcu.readUint32(STAT), state.dreq, mcu.readUint32(STREAM_CTR), mcu.readUint32(STREAM_ADDR)]).to.deep.equal([
      ONE,
      true,
      4,
      0x10000104,
    ]);
    cycles(W);
    expect(mcu.readUint32(STAT)).to.equal(FULL);
    cycles(10 * W); // full: the stream waits
    expect([mcu.readUint32(STAT), mcu.readUint32(STREAM_CTR)]).to.deep.equal([FULL, 3]);
    expect(mcu.readUint32(XIP_AUX_BASE)).to.equal(0x100 * 3 + 1);
    expect(mcu.readUint32(STREAM_FIFO)).to.equal(0x104 * 3 + 1);
    expect([mcu.readUint32(STAT), state.dreq]).to.deep.equal([EMPTY, false]);
    cycles(W); // the pop restarted it
    expect([mcu.readUint32(STAT), mcu.readUint32(XIP_AUX_BASE + 0x40)]).to.deep.equal([ONE, 0x108 * 3 + 1]);
    cycles(3 * W);
    expect([mcu.readUint32(STREAM_CTR), mcu.readUint32(STAT)]).to.deep.equal([0, FULL]); // the last two words, then it stops
    mcu.readUint32(XIP_AUX_BASE);
    mcu.readUint32(XIP_AUX_BASE);
    cycles(10 * W);
    expect(mcu.readUint32(STAT)).to.equal(EMPTY);
  });

  it('STREAM_CTR = 0 halts the stream and discards the word in flight; FLUSH and the counters reach the cache model', () => {
    const { mcu, stream, state, cycles } = rig();
    mcu.writeUint32(STREAM_ADDR, 0x10000000);
    mcu.writeUint32(STREAM_CTR, 100);
    cycles(W + W / 2);
    mcu.writeUint32(STREAM_CTR, 0);
    cycles(10 * W);
    expect([mcu.readUint32(STAT), stream.stats.words]).to.deep.equal([ONE, 1]);
    mcu.writeUint32(XIP_CTRL_BASE + 0x04, 1);
    expect(state.flushes).to.equal(1);
    expect([mcu.readUint32(XIP_CTRL_BASE + 0x0c), mcu.readUint32(XIP_CTRL_BASE + 0x10)]).to.deep.equal([5, 9]);
    mcu.writeUint32(XIP_CTRL_BASE + 0x0c, 0); // any write clears
    state.hits += 2;
    expect(mcu.readUint32(XIP_CTRL_BASE + 0x0c)).to.equal(2);
    expect(mcu.readUint32(XIP_CTRL_BASE)).to.equal(3); // CTRL: EN and ERR_BADWRITE after reset
  });

  it('a core miss waits for the word on the wire; the stream resumes 7 cycles after the miss', () => {
    const { mcu, stream, cycles, nanos } = rig();
    mcu.writeUint32(STREAM_ADDR, 0x10000000);
    mcu.writeUint32(STREAM_CTR, 10);
    cycles(10); // 30 cycles of the first word left
    const MISS = 56;
    expect(stream.coreMiss(nanos(), MISS)).to.equal(W - 10);
    // the word lands on time; the next one starts after the miss and the cooldown
    cycles(W - 10);
    expect(stream.level).to.equal(1);
    const resume = MISS + STREAM_COOLDOWN_CYCLES;
    cycles(resume + W - 1);
    expect(stream.level).to.equal(1);
    cycles(1);
    expect(stream.level).to.equal(2);
    expect(stream.stats.coreWaitCycles).to.equal(W - 10);
    // with the FIFO full nothing is on the wire: a miss waits for nothing
    expect(stream.coreMiss(nanos(), MISS)).to.equal(0);
  });

  describe('in the harness: a DMA channel paced by DREQ_XIP_STREAM', function () {
    needs('arm-none-eabi-gcc');
    this.timeout(120_000);
    const WORDS = 256;
    // channel 0: XIP_AUX → SRAM 0x20001000, 32-bit, write address incrementing, TREQ_SEL 37 (DREQ_XIP_STREAM),
    // CHAIN_TO itself (no chain); then the stream of the table; wait for the channel's BUSY to fall
    const program = `    ldr r0, =0x50000000
    ldr r1, =0x50400000
    str r1, [r0, #0]
    ldr r1, =0x20001000
    str r1, [r0, #4]
    ldr r1, =${WORDS}
    str r1, [r0, #8]
    ldr r1, =(1 | (2 << 2) | (1 << 5) | (37 << 15))
    str r1, [r0, #0xc]
    ldr r2, =0x14000000
    ldr r1, =table
    str r1, [r2, #0x14]
    ldr r1, =${WORDS}
    bkpt #1
    str r1, [r2, #0x18]
1:  ldr r1, [r0, #0xc]
    lsrs r1, r1, #25
    bcs 1b
    ldr r0, =table
    bkpt #0
    .ltorg
    .balign 8
table:
    .set v, 0x9e3779b9
    .rept ${WORDS}
    .word v
    .set v, (v * 69069 + 12345) & 0xffffffff
    .endr
`;

    async function stream(variant: Boot2Variant, options: { xipModel?: boolean; bootRom?: Uint8Array }) {
      const image = assemblyImage(program, variant);
      const emu = Rp2040Emulator.fromImage(image, 0x10000000, options);
      expect(await emu.run({ maxSeconds: 20 })).to.include({ reason: 'break', breakCode: 1 });
      const done = await emu.run({ maxSeconds: 20 });
      expect(done).to.include({ reason: 'break', breakCode: 0 });
      const table = done.exitCode! - 0x10000000;
      const copied = Buffer.from(emu.mcu.sram.subarray(0x1000, 0x1000 + 4 * WORDS));
      expect(copied.equals(image.subarray(table, table + 4 * WORDS)), "the SRAM holds the flash's bytes").to.equal(true);
      return { cycles: done.runCycles, report: emu.streamReport };
    }

    for (const [variant, word] of [
      ['quad', 40], // EBh continuous read, BAUDR 2: (8 address and mode + 4 dummy + 8 data) × 2
      ['safe', 256], // 03h, BAUDR 4: (8 + 24 + 32) × 4
    ] as const) {
      it(`${variant} boot2 with the XIP model: ${word} cycles a word, the stream's bytes in SRAM`, async () => {
        const { cycles, report } = await stream(variant, { xipModel: true });
        expect(report).to.include({ words: WORDS, wordCycles: word, underflows: 0 });
        expect(report.dma.transfers).to.equal(WORDS);
        // the stream's words back to back, plus the DMA's last transfer and the core's polling and
        // code misses after it (a few lines, each ≤ a miss, a word on the wire and the cooldown)
        expect(cycles).to.be.at.least(WORDS * word);
        expect(cycles).to.be.at.most(WORDS * word + 6 * (2 * word + 7) + 100);
      });
    }

    it('without the XIP model a word takes a cycle (flash has no wait states there)', async () => {
      const { cycles, report } = await stream('quad', {});
      expect(report).to.include({ words: WORDS, wordCycles: 1 });
      expect(cycles).to.be.below(4 * WORDS);
    });

    it('booted through the boot ROM, the stream reads through the SSI model as boot2 set it up', async function () {
      requireBootRom(this);
      const { report } = await stream('quad', { bootRom: readBootRom(), xipModel: true });
      expect(report).to.include({ words: WORDS, wordCycles: 40 });
    });

    it('a memory-to-memory DMA (TREQ_SEL permanent) moves one word a cycle, not all at once', async () => {
      const copy = `    ldr r0, =0x50000040
    ldr r1, =0x20002000
    str r1, [r0, #0]
    ldr r1, =0x20003000
    str r1, [r0, #4]
    ldr r1, =${WORDS}
    str r1, [r0, #8]
    ldr r1, =(1 | (2 << 2) | (1 << 4) | (1 << 5) | (1 << 11) | (63 << 15))
    bkpt #1
    str r1, [r0, #0xc]
    ldr r5, [r0, #8]
1:  ldr r1, [r0, #0xc]
    lsrs r1, r1, #25
    bcs 1b
    mov r0, r5
    bkpt #0
`;
      const emu = Rp2040Emulator.fromImage(assemblyImage(copy, 'quad'));
      const source = Uint8Array.from({ length: 4 * WORDS }, (_, i) => (i * 37 + 11) & 0xff);
      emu.mcu.sram.set(source, 0x2000);
      expect(await emu.run({ maxSeconds: 20 })).to.include({ reason: 'break', breakCode: 1 });
      const done = await emu.run({ maxSeconds: 20 });
      expect(done).to.include({ reason: 'break', breakCode: 0 });
      expect(Buffer.from(emu.mcu.sram.subarray(0x3000, 0x3000 + 4 * WORDS)).equals(Buffer.from(source))).to.equal(true);
      // right after the trigger the channel has moved a word or two, not the block
      expect(done.exitCode).to.be.within(WORDS - 3, WORDS - 1);
      expect(done.runCycles).to.be.within(WORDS, WORDS + 30);
    });
  });
});
