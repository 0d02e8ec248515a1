/**
 * An RP2040 in Node (rp2040js) running one of our firmwares: load the flat image or UF2 file,
 * start it the way the boot ROM would, collect what it prints on UART0, type into its UART0, and
 * stop on a breakpoint (the firmware's exit), a pattern in the output, or a budget of cycles or
 * wall-clock seconds. A run always ends: the wall-clock budget is always enforced.
 *
 *   const emu = await Rp2040Emulator.load('build/rp2040/firmware.uf2');
 *   emu.onUartByte((b) => process.stdout.write(String.fromCharCode(b)));
 *   const result = await emu.run({ maxSeconds: 60, until: (out) => out.includes('ready') });
 *   emu.writeUart('hello');
 *   const done = await emu.run({ maxCycles: 1e9 });   // → { reason: 'break', exitCode: 0, … }
 *
 * How it starts: with LoadOptions.bootRom, as the chip does: the boot ROM image at 0x0, a flash
 * chip model (./qspi-flash.ts) behind an SSI model (./ssi.ts), the core at the ROM's reset
 * vector; the ROM checks boot2's CRC and runs it from SRAM, and boot2's SSI set-up decides
 * whether the firmware can read flash (doc/rp2040.md, "Booting through the boot ROM").
 * Without it (rp2040js ships no ROM), the harness does what the ROM's flash boot amounts to:
 * SP = 0x20042000, LR = 0 ("entered from the ROM"), PC = 0x10000000, and boot2 runs in place
 * from flash with rp2040js's SSI, which reads flash whatever its set-up. The ROM would first check
 * boot2's CRC; the harness checks it too (and refuses the image, as the ROM would).
 *
 * Time: the core reports the cycles each instruction takes; the harness advances rp2040js's
 * clock by cycles / clk_sys, with clk_sys as the firmware configured it (133 MHz after
 * clocks.c; rp2040js starts at 125 MHz). So the firmware's TIMER reads cycles / MHz and its
 * SysTick counts cycles.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Simulator, type Logger, type RP2040 } from 'rp2040js';
import { UserError } from '../util/errors.js';
import { checkBoot2 } from '../firmware-image/boot2.js';
import { decodeUf2, RP2040_FAMILY_ID, RP2040_FLASH_BASE } from '../firmware-image/uf2.js';
import { checkBootRom } from './boot-rom.js';
import { IoQspi } from './io-qspi.js';
import { PcProfiler, type Profile, type ProfilerOptions } from './profiler.js';
import { flashChipFor, QspiFlash, type FlashChipSpec } from './qspi-flash.js';
import { SecondCore, type Core } from './second-core.js';
import { Ssi } from './ssi.js';
import { paceDma, type DmaPacingStats } from './dma-pacing.js';
import { VregAndChipReset } from './vreg-chip-reset.js';
import { flashReadTiming, lineFillCycles, XipCache, type FlashReadTiming, type XipStats } from './xip-cache.js';
import { DREQ_XIP_STREAM, XipStream, type XipStreamStats } from './xip-stream.js';

export const INITIAL_SP = 0x20042000;
/** rp2040js's flash array: the 16 MiB XIP window. */
const FLASH_WINDOW_BYTES = 16 * 1024 * 1024;
/** UARTFR.RXFF: the RX FIFO (32 entries) is full. */
const UARTFR_RXFF = 1 << 6;
/** Instructions between checks of the budgets, the RX queue and `until`. */
const BATCH_INSTRUCTIONS = 50_000;
const DEFAULT_MAX_SECONDS = 60;
/**
 * Both cores awake: each runs this many cycles in turn (core 0 first, then core 1 up to core 0's
 * count). A core woken by the other's SEV resumes at most this late: a few hundred cycles per
 * hand-off, against millions per token.
 */
const CORE_QUANTUM_CYCLES = 128;

export type StopReason = 'break' | 'cycles' | 'timeout' | 'until';

/** Where the boot ROM copies boot2 and jumps to it (RP2040 datasheet 2.8.1.3). */
export const BOOT2_SRAM_ENTRY = 0x20041f00;
/** The first register of the USB controller: the ROM's USB boot mode sets it up, flash boot never does. */
const USB_CTRL_PERIPHERAL = 0x50110;

export interface RunOptions {
  /** Stop after this many more cycles (default: no cycle budget). */
  maxCycles?: number;
  /** Stop after this many wall-clock seconds (default 60; always enforced). */
  maxSeconds?: number;
  /** Stop once this returns true for the UART output so far (all of it, since load), checked every few thousand instructions. */
  until?: (output: string) => boolean;
  /**
   * While the firmware sleeps (WFI/WFE) until a timer, let that time pass in real time, as on a
   * board, instead of jumping to the timer at once (default: jump). A firmware that sleeps waiting
   * for its host still wakes every SysTick wrap (126 ms at 133 MHz): jumping makes an idle
   * `flash --emulate` run those wraps flat out, a core busy doing nothing.
   */
  idleInRealTime?: boolean;
}

/** The longest real-time sleep in one go when idleInRealTime (so host bytes are taken within it). */
const IDLE_SLICE_MS = 10;

export interface RunResult {
  reason: StopReason;
  /** Cycles since the firmware started (rp2040js's `core.cycles`). */
  cycles: number;
  /** Cycles in this run. */
  runCycles: number;
  /** Everything the firmware printed on UART0 since load, as UTF-8 text. */
  output: string;
  /** The BKPT immediate (reason 'break'): 0 for rp2040_exit, 0xff for a fault report. */
  breakCode?: number;
  /** r0 at the breakpoint (reason 'break'): rp2040_exit's code. */
  exitCode?: number;
  /** Wall-clock seconds this run took. */
  seconds: number;
  /** Emulated cycles per wall-clock second in this run, in millions. */
  emulatedMHz: number;
}

/** A firmware did something the emulator reports as an error (an unaligned access, an unknown instruction). */
export class EmulatorError extends Error {
  constructor(
    message: string,
    readonly output: string,
    readonly pc: number,
  ) {
    super(message);
    this.name = 'EmulatorError';
  }
}

/** The boot ROM did not start boot2 (bad CRC or unreadable flash) and went to its USB boot mode, as a board would. */
export class BootFailure extends EmulatorError {
  constructor(message: string, output: string, pc: number) {
    super(message, output, pc);
    this.name = 'BootFailure';
  }
}

/** Collects rp2040js's log: warnings kept (the first few hundred), errors raised. */
class HarnessLogger implements Logger {
  readonly warnings: string[] = [];
  warningCount = 0;
  fatal?: string;
  debug(): void {}
  info(): void {}
  warn(component: string, message: string): void {
    this.warningCount++;
    if (this.warnings.length < 200) this.warnings.push(`[${component}] ${message}`);
    // An instruction rp2040js cannot execute is skipped and the program continues with garbage: stop instead.
    if (/not implemented yet/.test(message) || /^Opcode:/.test(message)) this.fatal ??= `[${component}] ${message}`;
  }
  error(component: string, message: string): void {
    this.fatal ??= `[${component}] ${message}`;
    throw new Error(`[${component}] ${message}`);
  }
}

export interface LoadOptions {
  /** Skip the boot2 CRC check (default: check, as the boot ROM does). */
  skipBoot2Check?: boolean;
  /**
   * Model the XIP cache and the flash behind it (src/emulator/xip-cache.ts): every flash read of
   * the core goes through a 16 KiB 2-way cache, and a miss stalls the core for the flash transfer
   * at the SSI set-up boot2 wrote; the stall cycles count in `cycles` and in the firmware's timers.
   * Off by default (rp2040js itself reads flash with no wait states).
   */
  xipModel?: boolean | { overheadCycles?: number };
  /**
   * Sample the program counter every `intervalCycles` cycles and count the samples per kernel
   * (src/emulator/profiler.ts). `elf`: the firmware's ELF (default: firmware.elf beside the file
   * given to `load`).
   */
  profile?: ProfilerOptions & { elf?: string };
  /**
   * Boot as the chip boots: the boot ROM image (src/emulator/boot-rom.ts) at 0x00000000, a flash
   * chip model behind an SSI model (src/emulator/qspi-flash.ts, ssi.ts), and the core starting at
   * the ROM's reset vector. The ROM reads boot2 over the SSI, checks its CRC and runs it; boot2's
   * SSI set-up then decides whether XIP reads the flash right. Without it the harness starts boot2
   * in place at 0x10000000, with rp2040js's SSI (the old, faster start).
   */
  bootRom?: Uint8Array;
  /** The flash chip on the board when booting through the ROM (default: the Pico's W25Q16JV, or the smallest chip that holds a larger image). */
  flashChip?: FlashChipSpec;
}

/** The XIP stream's and the DMA's counts, and a stream word's flash read as the SSI was set up. */
export interface StreamReport extends XipStreamStats {
  dma: DmaPacingStats;
  /** clk_sys cycles a streamed word takes on the wire (1 without the XIP model: flash has no wait states then). */
  wordCycles: number;
  word?: FlashReadTiming;
}

/** The XIP model's counts, and the line fill as the SSI was set up. */
export interface XipReport extends XipStats {
  hitRate: number;
  lineFill?: FlashReadTiming & { cycles: number };
}

/**
 * One emulated RP2040 with a firmware loaded (load(), fromImage(), fromUf2()): run() it in slices
 * against budgets of cycles or seconds, read and type into UART0, and, as LoadOptions ask, boot it
 * through the real boot ROM (flash chip behind the SSI model), model the XIP cache's timing or
 * profile it. Time is emulated: nanoseconds follow cycles at the clock the firmware set up. A bad
 * firmware file is a UserError; a firmware that faults makes run() throw an EmulatorError (with
 * its output and PC), a boot that fails a BootFailure.
 */
export class Rp2040Emulator {
  readonly simulator: Simulator;
  readonly mcu: RP2040;
  private readonly logger = new HarnessLogger();
  private readonly outputBytes: number[] = [];
  private decodedLength = 0;
  private decoded = '';
  private readonly listeners = new Set<(byte: number) => void>();
  private readonly rxQueue: number[] = [];
  private nanosPerCycle: number;
  private breakCode?: number;
  private baud?: number;
  private running = false;
  /** The XIP cache model (LoadOptions.xipModel), if on. */
  private readonly xip?: XipCache;
  private readonly readSsi?: () => FlashReadTiming | undefined;
  /** The PC-sampling profiler (LoadOptions.profile), if on. */
  private readonly profiler?: PcProfiler;
  /** XIP_CTRL and its stream FIFO (./xip-stream.ts), and the DMA's counts (./dma-pacing.ts). */
  private readonly stream: XipStream;
  private readonly dmaStats: DmaPacingStats;
  private readonly streamTiming?: () => FlashReadTiming | undefined;
  /** The flash chip and the SSI in front of it (LoadOptions.bootRom), if booting through the ROM. */
  private readonly flashChip?: { chip: QspiFlash; ssi: Ssi };
  /** Booting through the ROM and boot2 has not started yet: watch where the ROM goes. */
  private bootWatch = false;
  /** Set when the ROM touched the USB controller before starting boot2. */
  private usbBootEntered = false;
  /** Set when the watchdog rebooted the chip (the ROM's reset_usb_boot does), which the emulator does not model. */
  private watchdogRebooted = false;
  /** Cycles the ROM took to start boot2 (when booting through it). */
  private boot2StartCycles?: number;
  /** Core 1 (./second-core.ts): waits in the boot ROM until a firmware launches it. */
  readonly core1: SecondCore;
  /** Ends the single-core loop's batch: a breakpoint, a watchdog reboot, core 1 woke up. */
  private stopBatch = false;
  /** The core whose instruction runs (the XIP model tells instruction fetches by its PC). */
  private executing: Core;
  /** Both cores running with the XIP model: until when (in cycles) the flash is busy with a line fill. */
  private flashBusyUntil = 0;

  private constructor(image: Uint8Array, address: number, options: LoadOptions) {
    if (address < RP2040_FLASH_BASE || address + image.length > RP2040_FLASH_BASE + FLASH_WINDOW_BYTES) {
      throw new UserError(
        `the firmware image must lie in flash (0x10000000..0x11000000); it is at 0x${address.toString(16)}, ${image.length} bytes.`,
      );
    }
    if (address !== RP2040_FLASH_BASE)
      throw new UserError(`the firmware image must start at 0x10000000 (with boot2), but it starts at 0x${address.toString(16)}.`);
    if (!options.skipBoot2Check && !options.bootRom) checkBoot2(image, 'the firmware image');
    this.simulator = new Simulator();
    this.mcu = this.simulator.rp2040;
    this.mcu.logger = this.logger;
    const core = this.mcu.core;
    if (options.bootRom) {
      checkBootRom(options.bootRom, 'the boot ROM image');
      const rom = options.bootRom;
      // loadBootrom resets the chip: SP and PC from the ROM's vector table (0x0, 0x4), flash erased
      this.mcu.loadBootrom(new Uint32Array(rom.buffer.slice(rom.byteOffset, rom.byteOffset + rom.length)));
      this.flashChip = this.installFlashChip(image, options.flashChip ?? flashChipFor(address - RP2040_FLASH_BASE + image.length));
      this.bootWatch = true;
      this.catchWatchdogReboot();
    } else {
      this.mcu.flash.set(image, address - RP2040_FLASH_BASE);
      core.SP = INITIAL_SP;
      core.LR = 0;
      core.PC = RP2040_FLASH_BASE;
    }
    this.core1 = new SecondCore(this.mcu, options.bootRom !== undefined, this.logger);
    this.core1.onWake = () => {
      this.stopBatch = true;
    };
    this.executing = core;
    this.nanosPerCycle = 1e9 / this.mcu.clkSys;
    this.mcu.addClockListener((clkSys) => {
      this.nanosPerCycle = 1e9 / clkSys;
    });
    this.mcu.onBreak = (code) => {
      this.breakCode = code;
      this.stopBatch = true;
    };
    const uart = this.mcu.uart[0];
    uart.onByte = (byte) => {
      this.outputBytes.push(byte);
      for (const listener of this.listeners) listener(byte);
    };
    uart.onBaudRateChange = (baud) => {
      this.baud = baud;
    };
    if (options.xipModel) {
      const overhead = typeof options.xipModel === 'object' ? (options.xipModel.overheadCycles ?? 0) : 0;
      this.readSsi = this.ssiTiming(overhead);
      this.streamTiming = this.ssiTiming(overhead, 4);
      this.xip = new XipCache(this.readSsi);
    }
    this.routeXipReads();
    this.stream = this.installStream();
    this.dmaStats = paceDma(this.mcu, this.xip && (() => this.xip!.takeStall()));
    if (options.profile) {
      if (!options.profile.elf) throw new Error('Rp2040Emulator: profiling needs the firmware ELF (options.profile.elf)');
      this.profiler = new PcProfiler(options.profile.elf, options.profile);
    }
  }

  /** Loads a firmware file: `.uf2`, or a flat image from 0x10000000 (`.bin`, anything else). */
  static async load(path: string, options: LoadOptions = {}): Promise<Rp2040Emulator> {
    if (options.profile && !options.profile.elf)
      options = { ...options, profile: { ...options.profile, elf: join(dirname(path), 'firmware.elf') } };
    const bytes = await readFile(path);
    if (bytes.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) {
      throw new UserError(`${path} is an ELF file; load the flat image (firmware.bin) or the UF2 file (firmware.uf2) made from it.`);
    }
    return path.toLowerCase().endsWith('.uf2')
      ? Rp2040Emulator.fromUf2(bytes, options, path)
      : Rp2040Emulator.fromImage(bytes, RP2040_FLASH_BASE, options);
  }

  /** A flat image (boot2 first) at `address` (default 0x10000000). */
  static fromImage(image: Uint8Array, address = RP2040_FLASH_BASE, options: LoadOptions = {}): Rp2040Emulator {
    return new Rp2040Emulator(image, address, options);
  }

  static fromUf2(file: Uint8Array, options: LoadOptions = {}, what = 'the UF2 file'): Rp2040Emulator {
    const { baseAddress, image } = decodeUf2(file, { familyId: RP2040_FAMILY_ID }, what);
    return new Rp2040Emulator(image, baseAddress, options);
  }

  /** Calls `listener` with every byte the firmware sends on UART0, as it is sent. Returns an unsubscribe function. */
  onUartByte(listener: (byte: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Queues bytes for UART0's receiver; they enter its 32-byte FIFO as the firmware makes room. */
  writeUart(data: Uint8Array | string): void {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (const b of bytes) this.rxQueue.push(b);
    this.feedReceiver();
  }

  /** Bytes queued for UART0 that the firmware has not received yet. */
  get pendingUartBytes(): number {
    return this.rxQueue.length;
  }

  /** Everything the firmware printed so far, as UTF-8 text. */
  get output(): string {
    if (this.decodedLength !== this.outputBytes.length) {
      this.decoded = Buffer.from(this.outputBytes).toString('utf8');
      this.decodedLength = this.outputBytes.length;
    }
    return this.decoded;
  }

  get outputBuffer(): Buffer {
    return Buffer.from(this.outputBytes);
  }

  /** Cycles since the firmware started. */
  get cycles(): number {
    return this.mcu.core.cycles;
  }

  /** clk_sys in Hz, as the firmware has configured it (rp2040js's default until it does: 125 MHz). */
  get clockHz(): number {
    return this.mcu.clkSys;
  }

  /** UART0's baud rate as the firmware configured it (from its divisor and clk_peri), if it did. */
  get uartBaud(): number | undefined {
    return this.baud;
  }

  /** What rp2040js warned about (unmodelled registers and the like): the first 200, and how many in all. */
  get warnings(): { first: readonly string[]; count: number } {
    return { first: this.logger.warnings, count: this.logger.warningCount };
  }

  async run(options: RunOptions = {}): Promise<RunResult> {
    if (this.running) throw new Error('Rp2040Emulator.run: already running; await the previous run first');
    this.running = true;
    try {
      return await this.runUntilStopped(options);
    } finally {
      this.running = false;
    }
  }

  private async runUntilStopped(options: RunOptions): Promise<RunResult> {
    const maxSeconds = options.maxSeconds ?? DEFAULT_MAX_SECONDS;
    if (!(maxSeconds > 0)) throw new Error(`run: maxSeconds must be positive, got ${maxSeconds}`);
    const { core } = this.mcu;
    const clock = this.simulator.clock;
    const started = performance.now();
    const deadline = started + maxSeconds * 1000;
    const startCycles = core.cycles;
    const cycleLimit = options.maxCycles === undefined ? Infinity : startCycles + options.maxCycles;
    this.breakCode = undefined;
    let checkedLength = -1;
    const { xip, profiler } = this;

    const finish = (reason: StopReason): RunResult => {
      this.feedReceiver();
      const seconds = (performance.now() - started) / 1000;
      const runCycles = core.cycles - startCycles;
      return {
        reason,
        cycles: core.cycles,
        runCycles,
        output: this.output,
        breakCode: reason === 'break' ? this.breakCode : undefined,
        exitCode: reason === 'break' ? core.registers[0] | 0 : undefined,
        seconds,
        emulatedMHz: seconds > 0 ? runCycles / seconds / 1e6 : 0,
      };
    };

    for (;;) {
      this.feedReceiver();
      const batchLimit = Math.min(cycleLimit, core.cycles + BATCH_INSTRUCTIONS * 4);
      let idle = false;
      let sleepCycles = 0;
      this.stopBatch = false;
      try {
        if (this.core1.awake) this.runBothCores(batchLimit, cycleLimit);
        else
          for (let i = 0; i < BATCH_INSTRUCTIONS && core.cycles < batchLimit; i++) {
            if (core.waiting) {
              // WFI/WFE: the core sleeps until an interrupt, and its clock runs on (the cycles count
              // them, as a board's SysTick would). Jump to the next timer event, within the cycle
              // budget; with neither, only the host can wake it.
              const nanos = clock.nanosToNextAlarm;
              const budget = cycleLimit - core.cycles;
              if (nanos <= 0 && budget === Infinity) {
                idle = true;
                break;
              }
              const cycles = nanos <= 0 ? budget : Math.min(Math.ceil(nanos / this.nanosPerCycle), budget);
              if (options.idleInRealTime) {
                sleepCycles = Math.min(cycles, Math.round((IDLE_SLICE_MS * 1e6) / this.nanosPerCycle));
                break;
              }
              this.sleep(cycles);
            } else if (xip === undefined && profiler === undefined && !this.bootWatch) {
              clock.tick(core.executeInstruction() * this.nanosPerCycle);
            } else if (this.bootWatch) {
              clock.tick(core.executeInstruction() * this.nanosPerCycle);
              if (core.PC === BOOT2_SRAM_ENTRY) {
                this.bootWatch = false;
                this.boot2StartCycles = core.cycles;
              } else if (this.usbBootEntered) break;
            } else {
              let cycles = core.executeInstruction();
              if (xip !== undefined) {
                // the flash reads of this instruction stalled the core: the cycles and the timers see it
                let stall = xip.takeStall();
                // a miss waits for a stream word already on the wire
                if (stall > 0) stall += this.stream.coreMiss(clock.nanos, stall);
                core.cycles += stall;
                cycles += stall;
              }
              clock.tick(cycles * this.nanosPerCycle);
              if (profiler !== undefined && core.cycles >= profiler.nextSample) profiler.sample(this.machineState(), core.cycles);
            }
            if (this.stopBatch) break;
          }
      } catch (err) {
        throw this.emulatorError(err);
      }
      if (this.logger.fatal) throw this.emulatorError(new Error(this.logger.fatal));
      if (this.watchdogRebooted) {
        throw new EmulatorError(
          `the firmware rebooted the chip through the watchdog after ${core.cycles} cycles (the boot ROM's reset_usb_boot, after a 1200-baud touch, does this to enter BOOTSEL mode); ` +
            'the emulator does not model a chip reset: start the emulation again.',
          this.output,
          core.PC,
        );
      }
      if (this.usbBootEntered && this.bootWatch) {
        throw new BootFailure(
          `the boot ROM did not find a valid boot2 in the first 256 bytes of flash (${this.flashChip!.chip.spec.name}) and fell back to USB boot ` +
            `(BOOTSEL mode) after ${core.cycles} cycles: boot2's CRC-32 does not match, or the flash did not answer 03h reads. Rebuild the firmware so that boot2.bin comes from buildBoot2.`,
          this.output,
          core.PC,
        );
      }
      if (this.breakCode !== undefined) return finish('break');
      if (options.until && this.outputBytes.length !== checkedLength) {
        checkedLength = this.outputBytes.length;
        if (options.until(this.output)) return finish('until');
      }
      if (core.cycles >= cycleLimit) return finish('cycles');
      if (performance.now() >= deadline) return finish('timeout');
      // Let the host's callbacks and timers run (and, when idle, wait for them a little).
      if (sleepCycles > 0) {
        // the time passes for real, then for the emulated clock (the host may have woken the core meanwhile)
        await new Promise((resolve) => setTimeout(resolve, (sleepCycles * this.nanosPerCycle) / 1e6));
        this.sleep(sleepCycles);
      } else if (idle) await new Promise((resolve) => setTimeout(resolve, 1));
      else await yieldToEventLoop();
    }
  }

  /**
   * Both cores awake, until core 1 sleeps again (or the batch ends): core 0 runs a quantum of
   * cycles, then core 1 up to core 0's count. While core 0 sleeps, core 1 runs first, up to a
   * quantum or the next timer event, and core 0's clock then follows it (a SEV of core 1 ends
   * core 0's sleep where core 1 is). Time (the timers, `cycles`) follows core 0.
   */
  private runBothCores(batchLimit: number, cycleLimit: number): void {
    const core0 = this.mcu.core;
    const second = this.core1;
    const clock = this.simulator.clock;
    while (second.awake && core0.cycles < batchLimit && this.breakCode === undefined && !this.watchdogRebooted && !this.logger.fatal) {
      if (!core0.waiting) {
        const end = Math.min(core0.cycles + CORE_QUANTUM_CYCLES, batchLimit);
        while (core0.cycles < end && !core0.waiting && this.breakCode === undefined) clock.tick(this.stepCore0() * this.nanosPerCycle);
        this.runCore1Until(core0.cycles, false);
      } else {
        const nanos = clock.nanosToNextAlarm;
        let target = Math.min(core0.cycles + CORE_QUANTUM_CYCLES, cycleLimit);
        if (nanos > 0) target = Math.min(target, core0.cycles + Math.max(1, Math.ceil(nanos / this.nanosPerCycle)));
        this.runCore1Until(target, true);
        const until = core0.waiting ? target : Math.min(Math.max(core0.cycles, second.core.cycles), target);
        this.sleep(until - core0.cycles);
      }
    }
  }

  /** One instruction of core 0 in the two-core loop, with what the single-core loop does around it; its cycles. */
  private stepCore0(): number {
    const core = this.mcu.core;
    let cycles = core.executeInstruction();
    if (this.xip !== undefined) {
      const stall = this.queuedStall(core);
      core.cycles += stall;
      cycles += stall;
    }
    if (this.bootWatch && core.PC === BOOT2_SRAM_ENTRY) {
      this.bootWatch = false;
      this.boot2StartCycles = core.cycles;
    }
    const profiler = this.profiler;
    if (profiler !== undefined && core.cycles >= profiler.nextSample) profiler.sample(this.machineState(), core.cycles);
    return cycles;
  }

  /** Core 1 runs until its cycles reach `target` (a sleeping core 1 jumps there), or, if `untilCore0Wakes`, core 0 wakes. */
  private runCore1Until(target: number, untilCore0Wakes: boolean): void {
    const second = this.core1;
    const core0 = this.mcu.core;
    const xip = this.xip;
    this.executing = second.core;
    try {
      while (second.core.cycles < target) {
        const core = second.core;
        if (!second.awake) {
          if (core.cycles < target) core.cycles = target;
          break;
        }
        core.executeInstruction();
        if (xip !== undefined) core.cycles += this.queuedStall(core);
        if ((untilCore0Wakes && !core0.waiting) || this.breakCode !== undefined) break;
      }
    } finally {
      this.executing = core0;
    }
  }

  /**
   * The stall of the instruction a core just ran, with the XIP model, when both cores run: the
   * cache is shared and so is the one QSPI bus behind it, so a line fill waits for the other
   * core's fill still on the wire. (The cores run in turns of a quantum, so the other core's
   * fill may be up to a quantum later in its own time: the flash is still never busy with two
   * fills at once.) A word of the XIP stream on the wire delays it as well.
   */
  private queuedStall(core: Core): number {
    const stall = this.xip!.takeStall();
    if (stall === 0) return 0;
    // and for a stream word on the wire (./xip-stream.ts)
    const start = Math.max(core.cycles, this.flashBusyUntil) + this.stream.coreMiss(this.simulator.clock.nanos, stall);
    this.flashBusyUntil = start + stall;
    return this.flashBusyUntil - core.cycles;
  }

  /** The core asleep (WFI/WFE) for `cycles`: its clock, and the timers that follow it, run on. */
  private sleep(cycles: number): void {
    this.mcu.core.cycles += cycles;
    this.simulator.clock.tick(cycles * this.nanosPerCycle);
  }

  /** The XIP model's counts so far (undefined unless loaded with `xipModel`). */
  get xipReport(): XipReport | undefined {
    if (!this.xip) return undefined;
    const timing = this.readSsi?.();
    return {
      ...structuredClone(this.xip.stats),
      hitRate: this.xip.hitRate,
      lineFill: timing && { ...timing, cycles: lineFillCycles(timing) },
    };
  }

  /** The profile so far (undefined unless loaded with `profile`). */
  get profile(): Profile | undefined {
    return this.profiler?.report();
  }

  /** Forgets the profile's samples and the XIP counts so far (the cache keeps its contents), e.g. after boot. */
  resetCounters(): void {
    this.profiler?.reset();
    if (this.xip) {
      const s = this.xip.stats;
      s.accesses = s.hits = s.misses = s.uncached = s.stallCycles = 0;
      s.fetch.accesses = s.fetch.misses = s.data.accesses = s.data.misses = 0;
    }
  }

  /** The stream's and the DMA's counts so far (a firmware that streams weights: doc/rp2040.md). */
  get streamReport(): StreamReport {
    const word = this.streamTiming?.();
    return { ...this.stream.stats, dma: { ...this.dmaStats }, wordCycles: this.streamWordCycles(), word };
  }

  /** XIP_CTRL and the stream FIFO: words read through the SSI model when booting through the ROM, else from the flash array. */
  private installStream(): XipStream {
    const mcu = this.mcu;
    const flash = mcu.flash;
    const view = new DataView(flash.buffer, flash.byteOffset, flash.byteLength);
    const ssi = this.flashChip?.ssi;
    return XipStream.install(mcu, {
      readWord: (offset) => (ssi ? ssi.xipRead32(offset) : view.getUint32(offset, true)),
      wordCycles: () => this.streamWordCycles(),
      setDreq: (asserted) => (asserted ? mcu.dma.setDREQ(DREQ_XIP_STREAM) : mcu.dma.clearDREQ(DREQ_XIP_STREAM)),
      flushCache: () => this.xip?.flush(),
      cacheCounts: () => ({ hits: this.xip?.stats.hits ?? 0, accesses: this.xip?.stats.accesses ?? 0 }),
    });
  }

  /** A stream word's flash read: its wire time with the XIP model, one cycle without (rp2040js's flash has no wait states). */
  private streamWordCycles(): number {
    const t = this.streamTiming?.();
    return t ? lineFillCycles(t) : 1;
  }

  /** The flash read timing from the SSI's registers as the firmware set them (XIP_SSI at 0x18000000): a cache line, or `dataBytes`. */
  private ssiTiming(overheadCycles: number, dataBytes?: number): () => FlashReadTiming | undefined {
    const mcu = this.mcu;
    const read = mcu.readUint32.bind(mcu);
    const SSI = 0x18000000;
    return () =>
      flashReadTiming(
        { ctrlr0: read(SSI + 0x00), ssienr: read(SSI + 0x08), baudr: read(SSI + 0x14), spiCtrlr0: read(SSI + 0xf4) },
        overheadCycles,
        dataBytes,
      );
  }

  /**
   * Routes the core's reads of the XIP aliases (0x10…0x13…) where they must go: through the cache
   * model (LoadOptions.xipModel), and through the SSI while its configuration has not been found
   * to read flash correctly (booting through the ROM). rp2040js's core reads memory through the
   * RP2040 object's readUint32/16/8 (instruction fetches are 16-bit reads at PC), so instance
   * methods of those three see every instruction fetch and every load; when neither applies they
   * are rp2040js's own, which read its flash array at full speed. Called again whenever the SSI's
   * configuration changes.
   */
  private routeXipReads(): void {
    const mcu = this.mcu;
    const xip = this.xip;
    const ssi = this.flashChip?.ssi;
    const proto = Object.getPrototypeOf(mcu) as RP2040;
    if (xip === undefined && (ssi === undefined || ssi.xipVerified)) {
      // rp2040js's own methods, as own properties: deleting them instead would turn the RP2040
      // object into a slow dictionary-mode object for V8, and every access of the core to it slower
      if (Object.hasOwn(mcu, 'readUint32')) {
        mcu.readUint32 = proto.readUint32;
        mcu.readUint16 = proto.readUint16;
        mcu.readUint8 = proto.readUint8;
      }
      return;
    }
    const read32 = proto.readUint32.bind(mcu);
    const read16 = proto.readUint16.bind(mcu);
    const read8 = proto.readUint8.bind(mcu);
    const flash = mcu.flash;
    const view = new DataView(flash.buffer, flash.byteOffset, flash.byteLength);
    const inXip = (address: number) => {
      const top = address >>> 24;
      return top >= 0x10 && top <= 0x13;
    };
    // the word at an XIP address: from the array when the SSI reads right (or is rp2040js's), else from the SSI
    const direct = ssi === undefined || ssi.xipVerified;
    const word = (address: number) => (direct ? view.getUint32(address & 0xfffffc, true) : ssi!.xipRead32(address & 0xffffff));
    mcu.readUint32 = (address: number) => {
      address >>>= 0;
      if (!inXip(address)) return read32(address);
      xip?.access(address, false);
      return direct ? read32(address) : word(address);
    };
    mcu.readUint16 = (address: number) => {
      address >>>= 0;
      if (!inXip(address)) return read16(address);
      if (xip !== undefined) {
        const pc = (this.executing.PC & ~1) >>> 0;
        xip.access(address, address === pc || address === pc + 2);
      }
      return direct ? view.getUint16(address & 0xffffff, true) : (word(address) >>> ((address & 2) * 8)) & 0xffff;
    };
    mcu.readUint8 = (address: number) => {
      address >>>= 0;
      if (!inXip(address)) return read8(address);
      xip?.access(address, false);
      return direct ? flash[address & 0xffffff] : (word(address) >>> ((address & 3) * 8)) & 0xff;
    };
  }

  /**
   * The flash chip behind an SSI model, in place of rp2040js's SSI, and IO_QSPI for the chip
   * select: the image goes into the chip (rp2040js's flash array is its memory; a chip smaller
   * than the 16 MiB window repeats in it, as the address bits above its size are not decoded).
   */
  private installFlashChip(image: Uint8Array, spec: FlashChipSpec): { chip: QspiFlash; ssi: Ssi } {
    const mcu = this.mcu;
    if (image.length > spec.capacityBytes) {
      throw new UserError(
        `the firmware image is ${image.length} bytes, more than the ${spec.capacityBytes / 1024 / 1024} MB of the board's ${spec.name} flash.`,
      );
    }
    const flash = mcu.flash;
    flash.set(image, 0);
    for (let at = spec.capacityBytes; at < flash.length; at += spec.capacityBytes) flash.copyWithin(at, 0, spec.capacityBytes);
    // the chip and IO_QSPI ask the SSI for the time on the wire: called once it exists
    const chip: QspiFlash = new QspiFlash(spec, flash, () => ssi.chipTime);
    const clock = this.simulator.clock;
    const io = new IoQspi(
      mcu,
      (selected) => (selected ? chip.select() : chip.deselect()),
      () => ssi.syncWireTime(),
    );
    const ssi: Ssi = new Ssi(mcu, chip, { nanos: () => clock.nanos, clkSysHz: () => mcu.clkSys }, io);
    ssi.onXipChange = () => this.routeXipReads();
    const peripherals = mcu.peripherals as Record<number, unknown>;
    peripherals[0x18000] = ssi; // XIP_SSI_BASE 0x18000000 (rp2040js indexes its map by address >>> 14 << 2)
    peripherals[0x40018] = io; // IO_QSPI_BASE 0x40018000
    peripherals[0x40064] = new VregAndChipReset(mcu); // read by the ROM at reset
    // QSPI_SS as after reset (PADS_QSPI GPIO_QSPI_SS = 0x5a: input enabled, pull-up; rp2040js starts
    // every pad with its input disabled), and high: BOOTSEL not pressed (the ROM samples it before flash boot)
    mcu.qspi[1].padValue = 0x5a;
    mcu.qspi[1].setInputValue(true);
    // the ROM's USB boot mode is the only thing that touches the USB controller before boot2
    const usb = peripherals[USB_CTRL_PERIPHERAL] as { writeUint32(offset: number, value: number): void };
    const write = usb.writeUint32.bind(usb);
    usb.writeUint32 = (offset: number, value: number) => {
      if (this.bootWatch) this.usbBootEntered = true;
      write(offset, value);
    };
    return { chip, ssi };
  }

  /**
   * With the ROM present, firmware can reach its reset_usb_boot, which reboots through the
   * watchdog: rp2040js has no chip reset to do (and its watchdog timer, left at 0, would fire for
   * ever). End the run instead, with a message (checked after the batch).
   */
  private catchWatchdogReboot(): void {
    const watchdog = (this.mcu.peripherals as Record<number, unknown>)[0x40058] as {
      onWatchdogTrigger?: () => void;
      timer: { enable: boolean };
      alarm: { enable: boolean };
    };
    watchdog.onWatchdogTrigger = () => {
      watchdog.alarm.enable = false;
      watchdog.timer.enable = false;
      this.watchdogRebooted = true;
      this.stopBatch = true;
    };
  }

  /** Booting through the ROM: the chip, and the cycles the ROM took until boot2 started (undefined before). */
  get boot(): { chip: string; boot2StartCycles?: number; xipVerified: boolean } | undefined {
    const f = this.flashChip;
    return f && { chip: f.chip.spec.name, boot2StartCycles: this.boot2StartCycles, xipVerified: f.ssi.xipVerified };
  }

  /** What the profiler reads at a sample: registers, and memory without side effects (SRAM and flash only). */
  private machineState() {
    const mcu = this.mcu;
    const core = mcu.core;
    const sram = mcu.sram;
    const flash = mcu.flash;
    const word = (bytes: Uint8Array, offset: number) =>
      (bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16) | (bytes[offset + 3] << 24)) >>> 0;
    return {
      pc: core.PC >>> 0,
      lr: core.LR >>> 0,
      sp: core.SP >>> 0,
      readWord: (address: number) => {
        const offset = address - 0x20000000;
        return offset >= 0 && offset + 3 < sram.length ? word(sram, offset) : undefined;
      },
      readHalfword: (address: number) => {
        const top = address >>> 24;
        const bytes = top === 0x20 ? sram : top >= 0x10 && top <= 0x13 ? flash : undefined;
        const offset = top === 0x20 ? address - 0x20000000 : address & 0xffffff;
        return bytes && offset >= 0 && offset + 1 < bytes.length ? bytes[offset] | (bytes[offset + 1] << 8) : undefined;
      },
    };
  }

  /** Moves queued bytes into UART0's RX FIFO while it has room. */
  private feedReceiver(): void {
    const uart = this.mcu.uart[0];
    while (this.rxQueue.length > 0 && !(uart.flags & UARTFR_RXFF)) uart.feedByte(this.rxQueue.shift()!);
  }

  private emulatorError(err: unknown): EmulatorError {
    const pc = this.mcu.core.PC;
    const tail = this.output.slice(-400);
    const message = err instanceof Error ? err.message : String(err);
    return new EmulatorError(
      `the RP2040 emulator stopped the firmware near pc=0x${(pc >>> 0).toString(16)} after ${this.mcu.core.cycles} cycles: ${message}` +
        (tail ? `\nIts last output:\n${tail}` : '\nIt printed nothing.'),
      this.output,
      pc,
    );
  }
}
