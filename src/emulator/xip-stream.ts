/**
 * The XIP block's control registers and its streaming FIFO, for the emulator harness (rp2040js
 * has nothing at XIP_CTRL or XIP_AUX). What the RP2040 datasheet says (2.6.3.4 "Flash Streaming
 * and Auxiliary Bus Slave", and the XIP_CTRL register list):
 *
 * - XIP_CTRL at 0x14000000: CTRL (0x00: EN bit 0, ERR_BADWRITE bit 1, POWER_DOWN bit 3; reset 3),
 *   FLUSH (0x04: write 1 to clear the cache's tags), STAT (0x08: FLUSH_READY bit 0, FIFO_EMPTY
 *   bit 1, FIFO_FULL bit 2), CTR_HIT (0x0c) and CTR_ACC (0x10) (saturating counters, any write
 *   clears), STREAM_ADDR (0x14: bits 31:2, the next word to stream), STREAM_CTR (0x18: bits 21:0,
 *   words left; a non-zero write starts a stream, 0 halts it and discards the read in flight),
 *   STREAM_FIFO (0x1c: read pops a word);
 * - the FIFO is also the XIP_AUX slave at 0x50400000, on the fast AHB-Lite side, where the DMA
 *   reads it without the bus stalls of XIP traffic;
 * - the FIFO is 2 entries deep, and asserts DREQ_XIP_STREAM (37) while it holds data;
 * - the stream reads flash in the background, a 32-bit word at a time, through the SSI as boot2
 *   set it up and bypassing the cache, with lower priority than the cache's own misses, and
 *   resumes only 7 cycles after the last miss ("cooldown").
 *
 * Time: a word takes one XIP transfer of 32 data bits on the wire, priced like a cache line fill
 * (./xip-cache.ts `flashReadTiming` with 4 data bytes): with the quad boot2 (EBh continuous read,
 * BAUDR 2) (8 address and mode + 4 dummy + 8 data clocks) × 2 = 40 clk_sys cycles, with the safe
 * one (03h, BAUDR 4) (8 + 24 + 32) × 4 = 256. Without the timing model a word takes one cycle,
 * as rp2040js gives flash no wait states. A core miss that arrives while a stream word is on the
 * wire waits for it (the harness adds that to the core's stall: `coreMiss`), and the next word
 * starts 7 cycles after the miss's own transfer.
 *
 * Not modelled: CTRL.EN = 0 and POWER_DOWN (kept, but the cache model keeps caching), cache-as-SRAM
 * at 0x15000000, and bus errors for writes to the non-allocating aliases (ERR_BADWRITE).
 */
import { BasePeripheral, type RP2040 } from 'rp2040js';

/** XIP_CTRL: the cache's control registers and the stream's. */
export const XIP_CTRL_BASE = 0x14000000;
/** The stream FIFO on the fast AHB-Lite side: what a DMA channel reads. */
export const XIP_AUX_BASE = 0x50400000;
/** The DREQ the FIFO raises while it holds data (datasheet 2.5.3.1, DREQ table). */
export const DREQ_XIP_STREAM = 37;
/** Entries in the stream FIFO (STAT.FIFO_FULL's description). */
export const STREAM_FIFO_DEPTH = 2;
/** Cycles after the last cache miss before the stream uses the SSI again. */
export const STREAM_COOLDOWN_CYCLES = 7;

const CTRL = 0x00;
const FLUSH = 0x04;
const STAT = 0x08;
const CTR_HIT = 0x0c;
const CTR_ACC = 0x10;
const STREAM_ADDR = 0x14;
const STREAM_CTR = 0x18;
const STREAM_FIFO = 0x1c;

const STAT_FLUSH_READY = 1 << 0;
const STAT_FIFO_EMPTY = 1 << 1;
const STAT_FIFO_FULL = 1 << 2;
const STREAM_CTR_MASK = 0x3fffff;

/** What the stream needs from the machine. */
export interface XipStreamHost {
  /** One 32-bit XIP read of the flash at `offset` (multiple of 4) through the SSI, bypassing the cache. */
  readWord(offset: number): number;
  /** clk_sys cycles one such read takes on the wire (from the SSI's registers), at least 1. */
  wordCycles(): number;
  /** DREQ_XIP_STREAM to the DMA. */
  setDreq(asserted: boolean): void;
  /** XIP_CTRL.FLUSH: the cache model's tags cleared (if the harness models the cache). */
  flushCache(): void;
  /** The cache model's hit and access counts so far (zeros without the model). */
  cacheCounts(): { hits: number; accesses: number };
}

/** What the stream did: words read from the flash, and cycles core misses waited for a stream word on the wire. */
export interface XipStreamStats {
  words: number;
  /** Pops of an empty FIFO (they read 0). */
  underflows: number;
  /** Cycles core misses waited for a stream word to finish. */
  coreWaitCycles: number;
}

/**
 * XIP_CTRL's registers and the stream engine: `install(mcu, host)` maps it at XIP_CTRL and its
 * FIFO at XIP_AUX. Words arrive in the FIFO at the times the wire allows, by alarms on
 * rp2040js's clock, so they progress however the core runs.
 */
export class XipStream extends BasePeripheral {
  private ctrl = 3;
  private address = 0;
  private counter = 0;
  private readonly fifo: number[] = [];
  /** A word on the wire: when it started and when it lands (ns), or undefined. */
  private inFlight?: { start: number; done: number };
  /** The stream may not start a word before this time (ns): a core miss and its cooldown. */
  private notBefore = 0;
  private readonly alarm;
  private hitBase = 0;
  private accessBase = 0;
  readonly stats: XipStreamStats = { words: 0, underflows: 0, coreWaitCycles: 0 };

  constructor(
    rp2040: RP2040,
    private readonly host: XipStreamHost,
  ) {
    super(rp2040, 'XIP_CTRL');
    this.alarm = rp2040.clock.createAlarm(() => this.wordLands());
  }

  /** Maps XIP_CTRL (0x14000000) and XIP_AUX (0x50400000) to a new stream in `mcu`. */
  static install(mcu: RP2040, host: XipStreamHost): XipStream {
    const stream = new XipStream(mcu, host);
    const peripherals = mcu.peripherals as Record<number, unknown>;
    // rp2040js indexes its peripherals by address >>> 14 << 2
    peripherals[(XIP_CTRL_BASE >>> 14) << 2] = stream;
    peripherals[(XIP_AUX_BASE >>> 14) << 2] = new XipAux(mcu, stream);
    return stream;
  }

  private get nanosPerCycle(): number {
    return 1e9 / this.rp2040.clkSys;
  }

  override readUint32(offset: number): number {
    switch (offset) {
      case CTRL:
        return this.ctrl;
      case FLUSH:
        return 0;
      case STAT:
        return (
          STAT_FLUSH_READY | (this.fifo.length === 0 ? STAT_FIFO_EMPTY : 0) | (this.fifo.length >= STREAM_FIFO_DEPTH ? STAT_FIFO_FULL : 0)
        );
      case CTR_HIT:
        return Math.min(this.host.cacheCounts().hits - this.hitBase, 0xffffffff) >>> 0;
      case CTR_ACC:
        return Math.min(this.host.cacheCounts().accesses - this.accessBase, 0xffffffff) >>> 0;
      case STREAM_ADDR:
        return this.address >>> 0;
      case STREAM_CTR:
        return this.counter;
      case STREAM_FIFO:
        return this.pop();
    }
    return super.readUint32(offset);
  }

  override writeUint32(offset: number, value: number): void {
    value >>>= 0;
    switch (offset) {
      case CTRL:
        this.ctrl = value & 0xb;
        return;
      case FLUSH:
        if (value & 1) this.host.flushCache();
        return;
      case STAT:
      case STREAM_FIFO:
        return; // read-only
      case CTR_HIT:
        this.hitBase = this.host.cacheCounts().hits;
        return;
      case CTR_ACC:
        this.accessBase = this.host.cacheCounts().accesses;
        return;
      case STREAM_ADDR:
        this.address = value & ~3;
        return;
      case STREAM_CTR:
        this.counter = value & STREAM_CTR_MASK;
        if (this.counter === 0) {
          // halt, and discard the read in flight
          this.alarm.cancel();
          this.inFlight = undefined;
        } else this.next();
        return;
    }
    super.writeUint32(offset, value);
  }

  /** A read of the FIFO (STREAM_FIFO or XIP_AUX): the oldest word, or 0 when empty. */
  pop(): number {
    const word = this.fifo.shift();
    if (word === undefined) {
      this.stats.underflows++;
      return 0;
    }
    if (this.fifo.length === 0) this.host.setDreq(false);
    this.next();
    return word;
  }

  /** Words in the FIFO. */
  get level(): number {
    return this.fifo.length;
  }

  /**
   * A cache miss of the core at `nanos` (the start of its instruction) that holds the SSI for
   * `missCycles`: returns the cycles it first waits for a stream word on the wire; the stream
   * resumes 7 cycles after the miss.
   */
  coreMiss(nanos: number, missCycles: number): number {
    const perCycle = this.nanosPerCycle;
    let wait = 0;
    const f = this.inFlight;
    if (f !== undefined && f.start > nanos) {
      // the word had not started yet (a cooldown): it starts after this miss instead
      this.alarm.cancel();
      this.inFlight = undefined;
    } else if (f !== undefined && f.done > nanos) wait = Math.ceil((f.done - nanos) / perCycle);
    this.stats.coreWaitCycles += wait;
    this.notBefore = Math.max(this.notBefore, nanos + (wait + missCycles + STREAM_COOLDOWN_CYCLES) * perCycle);
    if (this.inFlight === undefined) this.next();
    return wait;
  }

  /** Starts the next word if the stream has words left, room in the FIFO and none on the wire. */
  private next(): void {
    if (this.inFlight !== undefined || this.counter === 0 || this.fifo.length >= STREAM_FIFO_DEPTH) return;
    const now = this.rp2040.clock.nanos;
    const start = Math.max(now, this.notBefore);
    const done = start + Math.max(1, this.host.wordCycles()) * this.nanosPerCycle;
    this.inFlight = { start, done };
    this.alarm.schedule(done - now);
  }

  private wordLands(): void {
    this.inFlight = undefined;
    if (this.counter === 0) return;
    this.fifo.push(this.host.readWord(this.address & 0xfffffc) >>> 0);
    this.stats.words++;
    this.address = (this.address + 4) >>> 0;
    this.counter--;
    this.host.setDreq(true);
    this.next();
  }
}

/** XIP_AUX (0x50400000): the stream FIFO on the fast bus; any word of it reads the FIFO. */
class XipAux extends BasePeripheral {
  constructor(
    rp2040: RP2040,
    private readonly stream: XipStream,
  ) {
    super(rp2040, 'XIP_AUX');
  }

  override readUint32(): number {
    return this.stream.pop();
  }

  override writeUint32(): void {}
}
