/**
 * `flash --emulate`: the firmware in rp2040js (src/emulator/rp2040.ts), in this process, with its
 * serial port on a pseudo-terminal, so that `monitor --port <that path>` talks to it exactly as to
 * a board on a USB cable or a USB-UART bridge.
 *
 *   emulator USB CDC or UART0  ⇄  our end of a socat pty pair  ⇄  the user's end (printed), for monitor
 *
 * Which port: what the image says it speaks (its tag, src/firmware-image/firmware-tag.ts), else the build's (`build --stdio`, in build-info.json): USB for `usb` and `both`
 * (src/emulator/usb-cdc.ts plays the computer: it enumerates the board and opens its port at once,
 * so the firmware's HELLO comes as soon as it starts serving), UART0 for `uart` and for builds
 * without the record (from before USB). Bytes from the firmware are written to our end as they
 * come; bytes read from it go to the board's USB OUT endpoint as the firmware arms it, or into the
 * emulated UART's 32-byte RX FIFO as the firmware makes room (the harness's writeUart).
 * As on a real UART, what the firmware sends while nobody has the user's end open is lost.
 * `reset()` starts the firmware again from its image (the board's RUN button); `stop()` ends the
 * emulator loop, closes the port and ends socat, and never hangs.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { checkBuildFiles, readBuildInfo } from '../toolchain/build-info.js';
import { readFirmwareTag } from '../firmware-image/firmware-tag.js';
import { bootRomAvailable, defaultBootRomPath, readBootRom } from './boot-rom.js';
import { Rp2040Emulator, EmulatorError, type LoadOptions } from './rp2040.js';
import { UsbCdcHost } from './usb-cdc.js';
import { RAW_PTY, SocatBridge } from '../serial/pty.js';
import { SerialConnection } from '../serial/transport.js';
import { UserError } from '../util/errors.js';

/** Wall-clock seconds per emulator run slice: how quickly stop() and reset() take effect. */
const SLICE_SECONDS = 0.2;

export interface EmulationOptions {
  /** A .uf2 or .bin file, or a build directory (default: build/rp2040/). */
  firmware?: string;
  target?: string;
  report?: (line: string) => void;
  /**
   * Boot through the RP2040 boot ROM (src/emulator/boot-rom.ts), as the chip does: true = the ROM
   * is required, false = start boot2 in place (the old, faster start), undefined (default) = the
   * ROM when its image is where the project expects it.
   */
  bootRom?: boolean;
}

/** The load options for the boot asked for: the ROM image if booting through it. */
export function bootOptions(bootRom: boolean | undefined, report: (line: string) => void = () => {}): LoadOptions {
  if (bootRom === false) return {};
  if (bootRom === undefined && !bootRomAvailable()) {
    report(`note: no RP2040 boot ROM image at ${defaultBootRomPath()}: boot2 starts in place at 0x10000000 (as with --no-bootrom)`);
    return {};
  }
  return { bootRom: readBootRom() };
}

/** How an emulation ended. */
export interface EmulationEnd {
  reason: 'stopped' | 'exited' | 'error';
  message: string;
}

/** The firmware file to emulate: a file as given, or firmware.uf2 in a build directory (default build/rp2040). */
export function firmwareToEmulate(firmware: string | undefined, target = 'rp2040'): string {
  if (target !== 'rp2040') throw new UserError(`--emulate runs RP2040 firmware in rp2040js; target "${target}" has no emulator here.`, 2);
  const given = resolve(firmware ?? join('build', target));
  const isDirectory = firmware === undefined || (existsSync(given) && statSync(given).isDirectory());
  const file = isDirectory ? join(given, 'firmware.uf2') : given;
  if (!existsSync(file)) {
    throw new UserError(
      firmware === undefined
        ? `no firmware to emulate: ${file} does not exist. Build one first: llama2-embed build --target rp2040 (add -n 0 for a firmware that only answers the monitor).`
        : `${file}: no such firmware file (expected a .uf2, a .bin, or a build directory).`,
    );
  }
  const info = readBuildInfo(dirname(file));
  if (info && info.target !== target)
    throw new UserError(`${file} was built for target "${info.target}", not ${target}: it cannot run in the RP2040 emulator.`);
  checkBuildFiles(dirname(file), target);
  return file;
}

/**
 * Which of the firmware's ports is bridged: what the image says it speaks (its tag, so a copied
 * firmware.uf2 is run as built), else the build-info.json beside it, else UART0 (builds from before USB).
 */
export function emulatedLink(firmware: string): 'usb' | 'uart' {
  const stdio = readFirmwareTag(firmware)?.stdio ?? readBuildInfo(dirname(firmware))?.stdio;
  return stdio === 'usb' || stdio === 'both' ? 'usb' : 'uart';
}

/**
 * A firmware running in the emulator behind a pseudo-terminal, as `flash --emulate` offers it:
 * start() it, print `devicePath` for monitor, reset() it (the image is loaded again, as after a
 * reset), and stop() it, which ends the run and the socat bridge.
 */
export class EmulatedBoard {
  private emulator: Rp2040Emulator;
  private usb?: UsbCdcHost;
  /** The firmware's port on the pty: its USB serial port, or UART0. */
  readonly link: 'usb' | 'uart';
  private detachUart: () => void;
  private pending: number[] = [];
  private flushScheduled = false;
  private stopping = false;
  private readonly loop: Promise<EmulationEnd>;
  /** Cycles run by earlier images (before a reset). */
  private cyclesBefore = 0;
  private started = performance.now();

  private constructor(
    readonly firmware: string,
    private readonly loadOptions: LoadOptions,
    image: Rp2040Emulator,
    private readonly bridge: SocatBridge,
    private readonly uart: SerialConnection,
    /** The user's end of the pty: give it to `monitor --port`. */
    readonly devicePath: string,
  ) {
    this.emulator = image;
    this.link = emulatedLink(firmware);
    this.detachUart = this.attach(image);
    uart.onData((bytes) => (this.usb ? this.usb.write(bytes) : this.emulator.writeUart(bytes)));
    this.loop = this.run();
  }

  /** Loads the firmware, makes the pty pair and starts the firmware. */
  static async start(options: EmulationOptions = {}): Promise<EmulatedBoard> {
    const firmware = firmwareToEmulate(options.firmware, options.target);
    const loadOptions = bootOptions(options.bootRom, options.report);
    const emulator = await Rp2040Emulator.load(firmware, loadOptions);
    const bridge = await SocatBridge.start([RAW_PTY, RAW_PTY]);
    try {
      const uart = await SerialConnection.open(bridge.ptys[0], { baudRate: 115200 });
      return new EmulatedBoard(firmware, loadOptions, emulator, bridge, uart, bridge.ptys[1]);
    } catch (err) {
      await bridge.stop();
      throw err;
    }
  }

  /** How the emulated chip starts: through the boot ROM, or boot2 in place. */
  get bootsThroughRom(): boolean {
    return this.loadOptions.bootRom !== undefined;
  }

  /** The port's name for people: "USB serial (CDC)" or "UART0". */
  get portName(): string {
    return this.link === 'usb' ? 'USB serial (CDC)' : 'UART0';
  }

  /** Resolves when the emulation ends: stop(), the firmware returned from main(), or an emulator error. */
  get ended(): Promise<EmulationEnd> {
    return this.loop;
  }

  /** Emulated cycles since the first start, and the emulation's speed in emulated MHz. */
  get speed(): { cycles: number; emulatedMHz: number } {
    const cycles = this.cyclesBefore + this.emulator.cycles;
    const seconds = (performance.now() - this.started) / 1000;
    return { cycles, emulatedMHz: seconds > 0 ? cycles / seconds / 1e6 : 0 };
  }

  /** Starts the firmware again from its image, as the board's RUN button would; the pty stays. */
  async reset(): Promise<void> {
    const next = await Rp2040Emulator.load(this.firmware, this.loadOptions);
    this.detachUart();
    this.cyclesBefore += this.emulator.cycles;
    this.pending = [];
    this.emulator = next;
    this.detachUart = this.attach(next);
  }

  /** Ends the emulation, closes our end of the pty and ends socat. */
  async stop(): Promise<EmulationEnd> {
    this.stopping = true;
    const end = await this.loop;
    this.flush();
    await this.uart.close();
    await this.bridge.stop();
    return end;
  }

  private attach(emulator: Rp2040Emulator): () => void {
    const queue = (bytes: Iterable<number>) => {
      for (const byte of bytes) this.pending.push(byte);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    };
    if (this.link === 'usb') {
      // a new cable for a new image (reset): the computer enumerates the board again
      const usb = UsbCdcHost.attach(emulator);
      this.usb = usb;
      const detach = usb.onData((bytes) => queue(bytes));
      return () => {
        detach();
        if (this.usb === usb) this.usb = undefined;
      };
    }
    return emulator.onUartByte((byte) => queue([byte]));
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0 || this.uart.isLost) return;
    const bytes = Uint8Array.from(this.pending);
    this.pending = [];
    this.uart.write(bytes).catch(() => {}); // the pty is gone: the loop notices and ends
  }

  private async run(): Promise<EmulationEnd> {
    for (;;) {
      if (this.stopping) return { reason: 'stopped', message: 'the emulator was stopped' };
      if (this.uart.isLost || !this.bridge.running)
        return { reason: 'error', message: `the pseudo-terminal went away (${this.uart.lostReason ?? 'socat exited'})` };
      const emulator = this.emulator;
      let result;
      try {
        result = await emulator.run({ maxSeconds: SLICE_SECONDS, idleInRealTime: true });
      } catch (err) {
        if (err instanceof EmulatorError) return { reason: 'error', message: err.message };
        throw err;
      }
      if (emulator !== this.emulator) continue; // reset during the slice
      if (result.reason === 'break') {
        this.flush();
        const how =
          result.breakCode === 0
            ? `the firmware returned from main() with ${result.exitCode ?? 0} (a build with exitAfterGeneration stops after its baked generation)`
            : `the firmware stopped on a fault (bkpt #${result.breakCode}); its last output:\n${result.output.slice(-400)}`;
        return { reason: result.breakCode === 0 ? 'exited' : 'error', message: how };
      }
    }
  }
}
