/**
 * A model of the RP2040's XIP cache and of the flash reads behind it, for the emulator harness
 * (rp2040js reads flash with no wait states and has no cache). What the RP2040 datasheet says
 * (section 2.6.3, "Flash"; XIP_CTRL registers):
 *
 * - the cache is 16 KiB, two-way set-associative, with 8-byte lines: 1024 sets of 2 ways, and a
 *   hit takes one cycle (as an SRAM access: nothing to add to the core's own timing);
 * - the 24-bit flash address space is mirrored with different behaviours, chosen by the address's
 *   top byte:
 *     0x10…  cacheable, allocating        look up; on a miss read the flash and fill the line
 *     0x11…  cacheable, non-allocating    look up; on a miss read the flash, leave the cache alone
 *     0x12…  non-cacheable, allocating    no look-up: always read the flash, and fill the line
 *     0x13…  non-cacheable, non-allocating  always read the flash, cache untouched
 * - the cache is enabled at reset (XIP_CTRL.CTRL.EN = 1); FLUSH clears the tags; a write to the
 *   0x10… alias deallocates a matching line.
 *
 * The datasheet does not say which way a miss replaces; this model evicts the least recently used
 * of the two (one bit per set), the usual choice for a 2-way cache. A hit through the
 * non-allocating alias counts as a use.
 *
 * A miss costs a flash transfer of one line, 8 bytes, through the SSI as boot2 configured it
 * (`flashReadTiming`): the command, the address (and mode bits), the dummy cycles, then 64 data
 * bits over 1, 2 or 4 lines, each bit time one SCK period of BAUDR clk_sys cycles:
 *
 *   stall = (command clocks + address clocks + dummy clocks + 64 / data lines) × BAUDR
 *
 * With our boot2: 'safe' (03h, standard SPI, BAUDR 4) (8 + 24 + 0 + 64) × 4 = 384 cycles;
 * 'fast' (3Bh, dual output, 8 dummy, BAUDR 2) (8 + 24 + 8 + 32) × 2 = 144 cycles. The SSI's
 * own latency (chip-select set-up, synchronizers, the AHB) comes on top on silicon and is not
 * modelled unless given as `overheadCycles`: the figures are a lower bound of a miss.
 */

export const XIP_BASE = 0x10000000;
export const XIP_CACHE_BYTES = 16 * 1024;
export const XIP_LINE_BYTES = 8;
export const XIP_WAYS = 2;
export const XIP_SETS = XIP_CACHE_BYTES / XIP_LINE_BYTES / XIP_WAYS;

/** How an address in 0x10000000..0x13ffffff reaches the flash, by its alias (top byte 0x10..0x13). */
export const XIP_ALIASES = ['cached', 'no-allocate', 'no-cache', 'no-cache-no-allocate'] as const;
export type XipAlias = (typeof XIP_ALIASES)[number];

/** Whether an address is one of the four XIP flash aliases. */
export function isXipAddress(address: number): boolean {
  const top = address >>> 24;
  return top >= 0x10 && top <= 0x13;
}

/** One flash read of a cache line as the SSI performs it, in SCK clocks, and the SCK divisor. */
export interface FlashReadTiming {
  commandClocks: number;
  /** Address and mode bits. */
  addressClocks: number;
  dummyClocks: number;
  /** The data bits over the data lines: 64 for a cache line, 32 for a word of the stream FIFO (./xip-stream.ts). */
  dataClocks: number;
  /** SSI BAUDR: clk_sys cycles per SCK period. */
  sckDivisor: number;
  /** Fixed clk_sys cycles added to each transfer (SSI and bus latency); 0 unless given. */
  overheadCycles: number;
  /** What the SSI sends, for reports: e.g. "03h, 1-1-1, BAUDR 4". */
  describe: string;
}

/** clk_sys cycles one line fill stalls the core: (command + address + dummy + data clocks) × BAUDR + overhead. */
export function lineFillCycles(t: FlashReadTiming): number {
  return (t.commandClocks + t.addressClocks + t.dummyClocks + t.dataClocks) * t.sckDivisor + t.overheadCycles;
}

/** The SSI registers that decide an XIP read (datasheet 4.10.13). */
export interface SsiRegisters {
  ctrlr0: number;
  baudr: number;
  spiCtrlr0: number;
  ssienr: number;
}

/**
 * The timing of a line fill from the SSI's registers as the firmware left them, or undefined
 * while the SSI is disabled or has no clock divisor (before boot2 has run: on silicon boot2 runs
 * from SRAM then, and the boot ROM's own set-up is not ours to model).
 *
 * CTRLR0.SPI_FRF (bits 22:21): data lines 1, 2 or 4. SPI_CTRLR0: XIP_CMD (31:24), WAIT_CYCLES
 * (15:11), INST_L (9:8: 0, 4, 8 or 16 bits), ADDR_L (5:2, in 4-bit units), TRANS_TYPE (1:0: 0 =
 * command and address on one line, 1 = address on the data lines, 2 = both on the data lines).
 * In the standard SPI format (SPI_FRF 0) everything goes over one line. `dataBytes`: what one
 * transfer reads (a cache line, 8, by default; the stream FIFO reads 4).
 */
export function flashReadTiming(r: SsiRegisters, overheadCycles = 0, dataBytes = XIP_LINE_BYTES): FlashReadTiming | undefined {
  if (!(r.ssienr & 1)) return undefined;
  const sckDivisor = r.baudr & 0xfffe; // SCKDV: even values only, bit 0 reads as 0
  if (sckDivisor === 0) return undefined;
  const frf = (r.ctrlr0 >>> 21) & 3;
  const lines = frf === 0 ? 1 : frf === 1 ? 2 : 4;
  const instBits = [0, 4, 8, 16][(r.spiCtrlr0 >>> 8) & 3];
  const addrBits = ((r.spiCtrlr0 >>> 2) & 0xf) * 4;
  const transType = frf === 0 ? 0 : r.spiCtrlr0 & 3;
  const wait = frf === 0 ? 0 : (r.spiCtrlr0 >>> 11) & 0x1f;
  const commandClocks = instBits / (transType === 2 ? lines : 1);
  const addressClocks = addrBits / (transType >= 1 ? lines : 1);
  const dataClocks = (dataBytes * 8) / lines;
  const command = (r.spiCtrlr0 >>> 24) & 0xff;
  const format = `${transType === 2 ? lines : 1}-${transType >= 1 ? lines : 1}-${lines}`;
  return {
    commandClocks,
    addressClocks,
    dummyClocks: wait,
    dataClocks,
    sckDivisor,
    overheadCycles,
    describe: `${instBits ? `${command.toString(16).padStart(2, '0')}h, ` : ''}${format}, ${wait} dummy, BAUDR ${sckDivisor}`,
  };
}

export interface XipStats {
  /** Flash reads the core made (every load and instruction fetch from 0x10…0x13…, as rp2040js makes them). */
  accesses: number;
  hits: number;
  misses: number;
  /** Accesses through the non-cacheable aliases (0x12…, 0x13…): always a flash read. */
  uncached: number;
  /** clk_sys cycles the core waited for the flash (misses and uncached reads). */
  stallCycles: number;
  /** The same split by kind: instruction fetches and data loads. */
  fetch: { accesses: number; misses: number };
  data: { accesses: number; misses: number };
}

/**
 * The cache: tags per set and way, and which way of each set was used last. `access(address)`
 * returns the stall cycles of one read and counts it; `flush()` and `invalidate()` are
 * XIP_CTRL.FLUSH and a write to the 0x10… alias.
 */
export class XipCache {
  /** Tag (flash line number >> 10) per set and way, -1 when invalid. Index: set * 2 + way. */
  private readonly tags = new Int32Array(XIP_SETS * XIP_WAYS).fill(-1);
  /** Per set: the way used most recently (the other one is replaced next). */
  private readonly lastUsed = new Uint8Array(XIP_SETS);
  readonly stats: XipStats = {
    accesses: 0,
    hits: 0,
    misses: 0,
    uncached: 0,
    stallCycles: 0,
    fetch: { accesses: 0, misses: 0 },
    data: { accesses: 0, misses: 0 },
  };
  /** Stall cycles not yet handed to the core (`takeStall`). */
  private pending = 0;
  private missCycles: number;

  /**
   * `timing`: the cost of a line fill, or a function giving it at the time of the miss (the
   * harness reads the SSI's registers; undefined = not set up yet, the miss costs nothing).
   */
  constructor(private readonly timing: FlashReadTiming | (() => FlashReadTiming | undefined)) {
    this.missCycles = typeof timing === 'function' ? 0 : lineFillCycles(timing);
  }

  /** One read of the core at `address` (an XIP alias); returns the cycles it stalls. */
  access(address: number, fetch = false): number {
    const stats = this.stats;
    stats.accesses++;
    const kind = fetch ? stats.fetch : stats.data;
    kind.accesses++;
    const alias = (address >>> 24) - 0x10;
    const line = (address & 0xffffff) >>> 3;
    const set = line & (XIP_SETS - 1);
    const tag = line >>> 10;
    const i = set * 2;
    const tags = this.tags;
    if (alias <= 1) {
      // cacheable: look up
      const way = tags[i] === tag ? 0 : tags[i + 1] === tag ? 1 : -1;
      if (way >= 0) {
        stats.hits++;
        this.lastUsed[set] = way;
        return 0;
      }
      stats.misses++;
      kind.misses++;
      if (alias === 0) this.fill(set, tag);
    } else {
      stats.uncached++;
      kind.misses++;
      if (alias === 2) {
        // allocating without a look-up: refresh the line where it is, else take the replaced way
        if (tags[i] === tag) this.lastUsed[set] = 0;
        else if (tags[i + 1] === tag) this.lastUsed[set] = 1;
        else this.fill(set, tag);
      }
    }
    const cycles = this.lineFill();
    stats.stallCycles += cycles;
    this.pending += cycles;
    return cycles;
  }

  /** The stall cycles accumulated since the last call (the harness adds them to the core's count). */
  takeStall(): number {
    const p = this.pending;
    this.pending = 0;
    return p;
  }

  /** XIP_CTRL.FLUSH: every line invalid. */
  flush(): void {
    this.tags.fill(-1);
    this.lastUsed.fill(0);
  }

  /** A write to the 0x10… alias: the line holding `address`, if cached, is deallocated. */
  invalidate(address: number): void {
    const line = (address & 0xffffff) >>> 3;
    const set = line & (XIP_SETS - 1);
    const tag = line >>> 10;
    if (this.tags[set * 2] === tag) this.tags[set * 2] = -1;
    if (this.tags[set * 2 + 1] === tag) this.tags[set * 2 + 1] = -1;
  }

  /** Whether the line holding `address` is in the cache (for tests). */
  holds(address: number): boolean {
    const line = (address & 0xffffff) >>> 3;
    const i = (line & (XIP_SETS - 1)) * 2;
    return this.tags[i] === line >>> 10 || this.tags[i + 1] === line >>> 10;
  }

  /** Hits per cacheable access (0..1). */
  get hitRate(): number {
    const cacheable = this.stats.hits + this.stats.misses;
    return cacheable ? this.stats.hits / cacheable : 0;
  }

  private fill(set: number, tag: number): void {
    const i = set * 2;
    // an invalid way first, else the one not used last
    const way = this.tags[i] === -1 ? 0 : this.tags[i + 1] === -1 ? 1 : this.lastUsed[set] ^ 1;
    this.tags[i + way] = tag;
    this.lastUsed[set] = way;
  }

  private lineFill(): number {
    if (typeof this.timing !== 'function') return this.missCycles;
    const t = this.timing();
    return t ? lineFillCycles(t) : 0;
  }
}
