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
 * How it starts: rp2040js ships no boot ROM, so the harness does what the ROM's flash boot
 * amounts to: SP = 0x20042000, LR = 0 ("entered from the ROM"), PC = 0x10000000, and boot2 runs
 * in place from flash. The ROM would first check boot2's CRC; the harness checks it too (and
 * refuses the image, as the ROM would), because the emulator itself does not.
 *
 * Time: the core reports the cycles each instruction takes; the harness advances rp2040js's
 * clock by cycles / clk_sys, with clk_sys as the firmware configured it (133 MHz after
 * clocks.c; rp2040js starts at 125 MHz). So the firmware's TIMER reads cycles / MHz and its
 * SysTick counts cycles.
 */
import { readFile } from 'node:fs/promises';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Simulator, type Logger, type RP2040 } from 'rp2040js';
import { UserError } from '../util/errors.js';
import { checkBoot2 } from '../flash/boot2.js';
import { decodeUf2, RP2040_FAMILY_ID, RP2040_FLASH_BASE } from '../flash/uf2.js';

export const INITIAL_SP = 0x20042000;
/** rp2040js's flash array: the 16 MiB XIP window. */
const FLASH_WINDOW_BYTES = 16 * 1024 * 1024;
/** UARTFR.RXFF: the RX FIFO (32 entries) is full. */
const UARTFR_RXFF = 1 << 6;
/** Instructions between checks of the budgets, the RX queue and `until`. */
const BATCH_INSTRUCTIONS = 50_000;
const DEFAULT_MAX_SECONDS = 60;

export type StopReason = 'break' | 'cycles' | 'timeout' | 'until';

export interface RunOptions {
  /** Stop after this many more cycles (default: no cycle budget). */
  maxCycles?: number;
  /** Stop after this many wall-clock seconds (default 60; always enforced). */
  maxSeconds?: number;
  /** Stop once this returns true for the UART output so far (all of it, since load), checked every few thousand instructions. */
  until?: (output: string) => boolean;
}

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
}

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

  private constructor(image: Uint8Array, address: number, options: LoadOptions) {
    if (address < RP2040_FLASH_BASE || address + image.length > RP2040_FLASH_BASE + FLASH_WINDOW_BYTES) {
      throw new UserError(`the firmware image must lie in flash (0x10000000..0x11000000); it is at 0x${address.toString(16)}, ${image.length} bytes.`);
    }
    if (address !== RP2040_FLASH_BASE) throw new UserError(`the firmware image must start at 0x10000000 (with boot2), but it starts at 0x${address.toString(16)}.`);
    if (!options.skipBoot2Check) checkBoot2(image, 'the firmware image');
    this.simulator = new Simulator();
    this.mcu = this.simulator.rp2040;
    this.mcu.logger = this.logger;
    this.mcu.flash.set(image, address - RP2040_FLASH_BASE);
    const core = this.mcu.core;
    core.SP = INITIAL_SP;
    core.LR = 0;
    core.PC = RP2040_FLASH_BASE;
    this.nanosPerCycle = 1e9 / this.mcu.clkSys;
    this.mcu.addClockListener((clkSys) => {
      this.nanosPerCycle = 1e9 / clkSys;
    });
    this.mcu.onBreak = (code) => {
      this.breakCode = code;
    };
    const uart = this.mcu.uart[0];
    uart.onByte = (byte) => {
      this.outputBytes.push(byte);
      for (const listener of this.listeners) listener(byte);
    };
    uart.onBaudRateChange = (baud) => {
      this.baud = baud;
    };
  }

  /** Loads a firmware file: `.uf2`, or a flat image from 0x10000000 (`.bin`, anything else). */
  static async load(path: string, options: LoadOptions = {}): Promise<Rp2040Emulator> {
    const bytes = await readFile(path);
    if (bytes.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) {
      throw new UserError(`${path} is an ELF file; load the flat image (firmware.bin) or the UF2 file (firmware.uf2) made from it.`);
    }
    return path.toLowerCase().endsWith('.uf2') ? Rp2040Emulator.fromUf2(bytes, options, path) : Rp2040Emulator.fromImage(bytes, RP2040_FLASH_BASE, options);
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
      try {
        for (let i = 0; i < BATCH_INSTRUCTIONS && core.cycles < batchLimit; i++) {
          if (core.waiting) {
            // WFI/WFE: jump to the next timer event, if any; otherwise only the host can wake it.
            const nanos = clock.nanosToNextAlarm;
            if (nanos <= 0) {
              idle = true;
              break;
            }
            clock.tick(nanos);
          } else {
            clock.tick(core.executeInstruction() * this.nanosPerCycle);
          }
          if (this.breakCode !== undefined) break;
        }
      } catch (err) {
        throw this.emulatorError(err);
      }
      if (this.logger.fatal) throw this.emulatorError(new Error(this.logger.fatal));
      if (this.breakCode !== undefined) return finish('break');
      if (options.until && this.outputBytes.length !== checkedLength) {
        checkedLength = this.outputBytes.length;
        if (options.until(this.output)) return finish('until');
      }
      if (core.cycles >= cycleLimit) return finish('cycles');
      if (performance.now() >= deadline) return finish('timeout');
      // Let the host's callbacks and timers run (and, when idle, wait for them a little).
      if (idle) await new Promise((resolve) => setTimeout(resolve, 1));
      else await yieldToEventLoop();
    }
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
