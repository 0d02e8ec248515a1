/**
 * The XIP cache model (src/emulator/xip-cache.ts): known access patterns give exact hits and
 * misses (line boundaries, the two ways and which one is replaced, the capacity, the four
 * aliases), a miss costs the flash transfer boot2's SSI set-up implies, and in the harness the
 * stall cycles land in the core's cycle count.
 */
import { expect } from 'chai';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { flashReadTiming, lineFillCycles, XIP_CACHE_BYTES, XipCache, type FlashReadTiming } from '../../src/emulator/xip-cache.js';
import type { Boot2Variant } from '../../src/firmware-image/boot2.js';
import { assemblyImage } from '../helpers/rp2040-program.js';
import { needs } from '../helpers/needs.js';

const BASE = 0x10000000;
/** A fixed, round cost per miss, so that stall cycles are easy to check. */
const TIMING: FlashReadTiming = {
  commandClocks: 8,
  addressClocks: 24,
  dummyClocks: 0,
  dataClocks: 64,
  sckDivisor: 1,
  overheadCycles: 4,
  describe: 'test',
};
const MISS = 100;

function counts(cache: XipCache) {
  const { hits, misses, uncached, stallCycles } = cache.stats;
  return { hits, misses, uncached, stallCycles };
}

/** What boot2.S writes to the SSI (its #defines), for each variant. */
function boot2Registers(variant: Boot2Variant) {
  const fast = variant === 'fast';
  const ctrlr0 = ((fast ? 1 : 0) << 21) | (31 << 16) | (3 << 8);
  const spiCtrlr0 = ((fast ? 0x3b : 0x03) << 24) | ((fast ? 8 : 0) << 11) | (2 << 8) | (6 << 2) | 0;
  return { ctrlr0, spiCtrlr0, baudr: fast ? 2 : 4, ssienr: 1 };
}

describe('emulator/xip-cache: the RP2040 XIP cache model', () => {
  it('has 16 KiB in 8-byte lines, 2 ways: a miss fills a whole line, the next line is another miss', () => {
    const cache = new XipCache(TIMING);
    expect(lineFillCycles(TIMING)).to.equal(MISS);
    for (let a = 0; a < 64; a += 4) cache.access(BASE + a); // 16 words, 8 lines
    expect(counts(cache)).to.deep.equal({ hits: 8, misses: 8, uncached: 0, stallCycles: 8 * MISS });
    const edge = new XipCache(TIMING);
    edge.access(BASE + 0x107); // the last byte of a line
    edge.access(BASE + 0x108); // the first byte of the next
    edge.access(BASE + 0x100);
    edge.access(BASE + 0x10f);
    expect(counts(edge)).to.deep.equal({ hits: 2, misses: 2, uncached: 0, stallCycles: 2 * MISS });
    expect(cache.hitRate).to.equal(0.5);
  });

  it('keeps two lines per set and replaces the least recently used one', () => {
    const cache = new XipCache(TIMING);
    const A = BASE + 0x40;
    const B = A + XIP_CACHE_BYTES / 2; // 8 KiB apart: the same set
    const C = A + XIP_CACHE_BYTES;
    const trace = [A, B, A, C, A, B, C].map((address) => (cache.access(address) === 0 ? 'hit' : 'miss'));
    // C replaces B (A was used after B); then B replaces C (A again used last); then C replaces A
    expect(trace).to.deep.equal(['miss', 'miss', 'hit', 'miss', 'hit', 'miss', 'miss']);
    expect([cache.holds(A), cache.holds(B), cache.holds(C)]).to.deep.equal([false, true, true]);
  });

  it('holds 16 KiB: a second pass over 16 KiB hits everywhere; over 24 KiB it misses every time (LRU thrashing)', () => {
    const cache = new XipCache(TIMING);
    for (let pass = 0; pass < 2; pass++) for (let a = 0; a < XIP_CACHE_BYTES; a += 8) cache.access(BASE + a);
    expect(counts(cache)).to.include({ misses: XIP_CACHE_BYTES / 8, hits: XIP_CACHE_BYTES / 8 });
    const big = new XipCache(TIMING);
    for (let pass = 0; pass < 2; pass++) for (let a = 0; a < (3 * XIP_CACHE_BYTES) / 2; a += 8) big.access(BASE + a);
    // 24 KiB is three lines in every set, used round-robin: LRU evicts each just before it is needed again
    expect(counts(big)).to.include({ hits: 0, misses: 2 * ((3 * XIP_CACHE_BYTES) / 2 / 8) });
  });

  it('0x11…: looks up but does not allocate; 0x12…: always reads the flash and allocates; 0x13…: always reads the flash, cache untouched', () => {
    const cache = new XipCache(TIMING);
    const offset = 0x2340;
    cache.access(0x11000000 + offset);
    cache.access(0x11000000 + offset);
    expect(counts(cache)).to.deep.equal({ hits: 0, misses: 2, uncached: 0, stallCycles: 2 * MISS });
    expect(cache.holds(BASE + offset)).to.equal(false);
    cache.access(BASE + offset); // allocates
    cache.access(0x11000000 + offset); // now a hit through the non-allocating alias
    expect(counts(cache)).to.deep.equal({ hits: 1, misses: 3, uncached: 0, stallCycles: 3 * MISS });
    cache.access(0x13000000 + offset); // a flash read even though the line is cached
    expect(counts(cache)).to.deep.equal({ hits: 1, misses: 3, uncached: 1, stallCycles: 4 * MISS });
    cache.access(0x13000000 + 0x9000);
    expect(cache.holds(BASE + 0x9000)).to.equal(false);
    cache.access(0x12000000 + 0x9000); // a flash read that fills the line
    expect(cache.holds(BASE + 0x9000)).to.equal(true);
    expect(cache.access(BASE + 0x9004)).to.equal(0);
    expect(counts(cache)).to.deep.equal({ hits: 2, misses: 3, uncached: 3, stallCycles: 6 * MISS });
    cache.invalidate(BASE + 0x9000); // a write to the 0x10… alias
    expect(cache.holds(BASE + 0x9000)).to.equal(false);
    cache.flush();
    expect(cache.holds(BASE + offset)).to.equal(false);
  });

  it('prices a miss from the SSI registers boot2 writes: command + address + dummy + 64 data bits, × BAUDR', () => {
    const safe = flashReadTiming(boot2Registers('safe'))!;
    expect(safe).to.include({ commandClocks: 8, addressClocks: 24, dummyClocks: 0, dataClocks: 64, sckDivisor: 4 });
    expect(lineFillCycles(safe)).to.equal(384); // 03h, serial: 96 SCK at clk_sys / 4
    const fast = flashReadTiming(boot2Registers('fast'))!;
    expect(fast).to.include({ commandClocks: 8, addressClocks: 24, dummyClocks: 8, dataClocks: 32, sckDivisor: 2 });
    expect(lineFillCycles(fast)).to.equal(144); // 3Bh, dual output: 72 SCK at clk_sys / 2
    // quad I/O (EBh, address and mode bits on four lines, 4 dummy), as the SDK's boot2 sets it up
    const quad = flashReadTiming({
      ctrlr0: (2 << 21) | (31 << 16) | (3 << 8),
      spiCtrlr0: (0xa0 << 24) | (4 << 11) | (0 << 8) | (8 << 2) | 2,
      baudr: 2,
      ssienr: 1,
    })!;
    expect(quad).to.include({ commandClocks: 0, addressClocks: 8, dummyClocks: 4, dataClocks: 16 });
    expect(lineFillCycles(quad)).to.equal(56);
    expect(flashReadTiming({ ...boot2Registers('safe'), ssienr: 0 })).to.equal(undefined); // before boot2: not ours to price
  });

  describe('in the harness (Rp2040Emulator.load(…, { xipModel: true }))', function () {
    needs('arm-none-eabi-gcc');
    this.timeout(120_000);
    // 2 passes over a 64-byte table (8 lines) through 0x10…, and over the same bytes through 0x13…
    const loop = `    ldr r0, =table
    ldr r4, =(table + 0x03000000)
    bkpt #1
    movs r2, #2
2:  movs r1, #0
1:  ldr r3, [r0, r1]
    ldr r3, [r4, r1]
    adds r1, #4
    cmp r1, #64
    bne 1b
    subs r2, #1
    bne 2b
    movs r0, #0
    bkpt #0
    .ltorg
    .balign 64
table:
    .space 64, 0x55
`;

    async function measure(variant: Boot2Variant, xipModel: boolean) {
      const emu = Rp2040Emulator.fromImage(assemblyImage(loop, variant), undefined, { xipModel });
      const setup = await emu.run({ maxSeconds: 10 });
      expect(setup).to.include({ reason: 'break', breakCode: 1 });
      emu.resetCounters();
      const result = await emu.run({ maxSeconds: 10 });
      expect(result).to.include({ reason: 'break', breakCode: 0 });
      return { emu, cycles: result.runCycles, xip: emu.xipReport };
    }

    for (const [variant, miss] of [
      ['safe', 384],
      ['fast', 144],
      ['quad', 56],
    ] as const) {
      it(`${variant} boot2: each miss and uncached read stalls the core ${miss} cycles, counted in its cycles`, async () => {
        const plain = await measure(variant, false);
        const modelled = await measure(variant, true);
        expect(plain.xip).to.equal(undefined);
        const xip = modelled.xip!;
        expect(xip.lineFill?.cycles).to.equal(miss);
        expect(xip.data).to.deep.equal({ accesses: 64, misses: 8 + 32 }); // 8 lines once; 32 reads through 0x13…
        expect(xip.uncached).to.equal(32);
        expect(xip.stallCycles).to.equal((xip.misses + xip.uncached) * miss);
        expect(modelled.cycles - plain.cycles).to.equal(xip.stallCycles);
      });
    }
  });
});
