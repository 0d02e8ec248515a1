/**
 * The RP2040's core 1, which rp2040js leaves out (it emulates core 0 only): a second Cortex-M0+
 * on the same bus, with what is private to each core (RP2040 datasheet 2.3.1): its registers, its
 * own PPB (NVIC, SysTick, VTOR), its own event register for WFE/SEV, and its own half of the SIO
 * (CPUID reads 1, its own hardware divider and interpolators). Shared between the cores: the
 * memory and peripherals, the SIO's GPIO registers and its 32 spinlocks (rp2040js's, already
 * shared), and the two inter-core FIFOs (./inter-core-fifo.ts).
 *
 * Core 1 starts, as on silicon, in the boot ROM: with the ROM image loaded it runs the ROM's own
 * code (which drains its FIFO, pushes 0 to core 0 and waits with WFE for the launch sequence
 * 0, 0, 1, vector table, stack pointer, entry, echoing each word; datasheet 2.8.2). Without the
 * ROM the harness plays that wait loop itself (RomWaitModel below), as it plays the ROM's flash
 * boot for core 0. PSM FRCE_OFF.PROC1 holds core 1 in reset; clearing it restarts core 1 in the
 * ROM, as pico-sdk's multicore_reset_core1 expects.
 *
 * SEV: rp2040js's SEV does nothing but log 'SEV' through the core's logger, so each core gets a
 * logger that turns that message into the event: it sets the executing core's own event register
 * and wakes the other core from WFE (or sets its event register). Interrupts: every peripheral
 * IRQ goes to both NVICs, except SIO_IRQ_PROC0/PROC1, which go to their own core only.
 *
 * The harness (./rp2040.ts) interleaves the two cores; this module only builds core 1 and keeps
 * its state (held in reset, waiting in the modelled ROM, asleep, awake).
 */
import type { Logger, RP2040 } from 'rp2040js';
import { InterCoreFifos } from './inter-core-fifo.js';

/** rp2040js's Cortex-M0+ core (the class is not exported, only its instance's type). */
export type Core = RP2040['core'];
type Ppb = RP2040['ppb'];
type Sio = RP2040['sio'];

const SIO_BASE = 0xd0000000;
const SIO_CPUID = 0x000;
const SIO_FIFO_ST = 0x050;
const SIO_FIFO_WR = 0x054;
const SIO_FIFO_RD = 0x058;
/** SIO offsets below this (GPIO, FIFO, SPINLOCK_ST) and from SPINLOCK0 on are shared; between them (divider, interpolators) each core has its own. */
const SIO_PER_CORE_FIRST = 0x060;
const SIO_SPINLOCK0 = 0x100;
const PPB_PAGE = 0xe000e;
const PSM_BASE_PERIPHERAL = 0x40010;
const PSM_FRCE_OFF = 0x04;
/** PSM FRCE_OFF / FRCE_ON bit of processor 1. */
const PSM_PROC1 = 1 << 16;
const IRQ_SIO_PROC0 = 15;
const IRQ_SIO_PROC1 = 16;
const WFE_OPCODE = 0xbf20;

/** What the core calls on the RP2040 object (its "bus"), plus what RPPPB and RPSIO read from it. */
interface CoreBus {
  logger: Logger;
  core: Core;
  clock: RP2040['clock'];
  readonly clkSys: number;
  onBreak(code: number): void;
  readUint32(address: number): number;
  readUint16(address: number): number;
  readUint8(address: number): number;
  writeUint32(address: number, value: number): void;
  writeUint16(address: number, value: number): void;
  writeUint8(address: number, value: number): void;
}

/**
 * The boot ROM's core-1 wait loop, played by the harness when no ROM image is loaded: each word
 * core 0 sends is echoed back; the sequence 0, 0, 1, VTOR, SP, entry launches core 1 (a 0 always
 * starts a sequence, anything unexpected restarts it), as the datasheet's 2.8.2 describes.
 */
class RomWaitModel {
  private step = 0;
  private readonly words: number[] = [];

  /** Takes one word from core 0; returns the launch (VTOR, SP, PC) once the sequence is complete. */
  receive(word: number): { vtor: number; sp: number; pc: number } | undefined {
    if (word === 0) {
      this.step = this.step === 1 || this.step === 2 ? 2 : 1;
      return undefined;
    }
    if (this.step < 2) this.step = 0;
    else if (this.step === 2) this.step = word === 1 ? 3 : 0;
    else {
      this.words[this.step - 3] = word >>> 0;
      if (++this.step === 6) {
        this.step = 0;
        return { vtor: this.words[0], sp: this.words[1], pc: this.words[2] };
      }
    }
    return undefined;
  }
}

/** Core 1 of an emulated RP2040 (see the file comment), attached to rp2040js's RP2040 object at construction. */
export class SecondCore {
  core: Core;
  readonly fifos: InterCoreFifos;
  /** Held in reset by PSM FRCE_OFF.PROC1. */
  held = false;
  /** Set when core 1 stops sleeping (a SEV, an interrupt, a launch): the harness's single-core loop stops its batch. */
  onWake: () => void = () => {};
  private readonly bus: CoreBus;
  private readonly ppb: Ppb;
  /** Core 1's own half of the SIO (its divider and interpolators). */
  private readonly sio: Sio;
  /** Without a ROM image: the ROM's wait loop, played by the harness, until core 1 is launched. */
  private romWait?: RomWaitModel;
  private readonly makeCore: () => Core;

  /**
   * `romLoaded`: core 1 runs the ROM image from its reset vector (else the harness plays the
   * ROM's wait loop). `logger`: core 0's (the harness's): it hears core 0's SEV, and core 1's warnings go to it.
   */
  constructor(
    private readonly mcu: RP2040,
    private readonly romLoaded: boolean,
    logger: Logger,
  ) {
    const CoreClass = mcu.core.constructor as new (bus: CoreBus) => Core;
    const PpbClass = mcu.ppb.constructor as new (bus: CoreBus, name: string) => Ppb;
    const SioClass = mcu.sio.constructor as new (bus: CoreBus) => Sio;
    this.fifos = new InterCoreFifos((core, level) => this.setSioIrq(core, level));
    const sharedSio = mcu.sio;
    const sharedRead = sharedSio.readUint32.bind(sharedSio);
    const sharedWrite = sharedSio.writeUint32.bind(sharedSio);
    const fifos = this.fifos;
    // core 1's view of the SIO: its CPUID, its FIFO ends, its divider; the rest shared
    const readSio1 = (offset: number): number => {
      if (offset === SIO_CPUID) return 1;
      if (offset === SIO_FIFO_ST) return fifos.status(1);
      if (offset === SIO_FIFO_RD) return fifos.read(1);
      return offset >= SIO_PER_CORE_FIRST && offset < SIO_SPINLOCK0 ? this.sio.readUint32(offset) : sharedRead(offset);
    };
    const writeSio1 = (offset: number, value: number): void => {
      if (offset === SIO_FIFO_WR) fifos.write(1, value);
      else if (offset === SIO_FIFO_ST) fifos.clearErrors(1, value);
      else if (offset >= SIO_PER_CORE_FIRST && offset < SIO_SPINLOCK0) this.sio.writeUint32(offset, value);
      else sharedWrite(offset, value);
    };
    const isSio = (address: number) => address >>> 28 === SIO_BASE >>> 28;
    const isPpb = (address: number) => address >>> 12 === PPB_PAGE;
    const read32 = (address: number): number => {
      address >>>= 0;
      if (isSio(address)) return readSio1(address & 0xfff);
      if (isPpb(address)) return this.ppb.readUint32(address & 0xfff);
      return mcu.readUint32(address);
    };
    const write32 = (address: number, value: number): void => {
      address >>>= 0;
      if (isSio(address)) writeSio1(address & 0xfff, value >>> 0);
      else if (isPpb(address)) this.ppb.writeUint32(address & 0xfff, value >>> 0);
      else mcu.writeUint32(address, value);
    };
    const private_ = (address: number) => isSio(address >>> 0) || isPpb(address >>> 0);
    this.bus = {
      logger: {
        debug: () => {},
        info: (_component, message) => {
          if (message === 'SEV') this.sev(1);
        },
        warn: (component, message) => logger.warn(component, `core 1: ${message}`),
        error: (component, message) => logger.error(component, `core 1: ${message}`),
      },
      core: undefined as unknown as Core,
      clock: mcu.clock,
      get clkSys() {
        return mcu.clkSys;
      },
      onBreak: (code) => mcu.onBreak(code),
      readUint32: read32,
      readUint16: (address) => (private_(address) ? (read32(address & ~3) >>> ((address & 2) * 8)) & 0xffff : mcu.readUint16(address)),
      readUint8: (address) => (private_(address) ? (read32(address & ~3) >>> ((address & 3) * 8)) & 0xff : mcu.readUint8(address)),
      writeUint32: write32,
      // the SIO and the PPB take 32-bit writes only (narrower ones write the whole word, as on the bus)
      writeUint16: (address, value) =>
        private_(address) ? write32(address & ~3, (value & 0xffff) * 0x10001) : mcu.writeUint16(address, value),
      writeUint8: (address, value) =>
        private_(address) ? write32(address & ~3, (value & 0xff) * 0x1010101) : mcu.writeUint8(address, value),
    };
    this.makeCore = () => {
      const core = new CoreClass(this.bus);
      this.bus.core = core;
      return core;
    };
    this.core = this.makeCore();
    this.ppb = new PpbClass(this.bus, 'PPB (core 1)');
    this.sio = new SioClass(this.bus);
    mcu.addClockListener((clkSys) => {
      this.ppb.systickTimer.frequency = clkSys;
    });
    this.attachCore0(logger);
    this.attachInterrupts();
    this.attachPsm();
    this.restart();
  }

  /** Core 1 executes instructions: out of reset, launched (or running the ROM), not asleep in WFE/WFI. */
  get awake(): boolean {
    return !this.held && this.romWait === undefined && !this.core.waiting;
  }

  /** Core 1 waits in the boot ROM for its launch (the harness's model of the ROM's loop, without a ROM image). */
  get inRomWait(): boolean {
    return this.romWait !== undefined;
  }

  /** Core 1 comes out of reset: in the boot ROM, its FIFO drained and a 0 pushed to core 0 (what the ROM does first). */
  private restart(): void {
    this.core = this.makeCore();
    this.ppb.reset();
    this.core.cycles = this.mcu.core.cycles;
    if (this.romLoaded) {
      this.core.reset(); // SP and PC from the ROM's vector table
      this.core.cycles = this.mcu.core.cycles;
      this.onWake();
      return;
    }
    this.romWait = new RomWaitModel();
    this.fifos.drain(1);
    this.fifos.write(1, 0);
  }

  /** SEV on core `from`: its own event register set, the other core woken from WFE (or its event register set). */
  sev(from: 0 | 1): void {
    const self = from === 0 ? this.mcu.core : this.core;
    const other = from === 0 ? this.core : this.mcu.core;
    self.eventRegistered = true;
    if (from === 0 && (this.held || this.romWait)) return;
    if (other.waiting && this.inWfe(other)) {
      other.waiting = false;
      if (from === 0) this.wake();
    } else other.eventRegistered = true;
  }

  /** Whether a sleeping core sleeps in WFE (which an event ends), not WFI (the instruction before its PC). */
  private inWfe(core: Core): boolean {
    const at = (core.PC - 2) >>> 0;
    const proto = Object.getPrototypeOf(this.mcu) as RP2040;
    return proto.readUint16.call(this.mcu, at) === WFE_OPCODE;
  }

  /** Core 1 starts executing again: from core 0's time, not from when it fell asleep. */
  private wake(): void {
    const core0 = this.mcu.core;
    if (this.core.cycles < core0.cycles) this.core.cycles = core0.cycles;
    this.onWake();
  }

  /** Core 0's side: the SEV hook on its logger, its FIFO ends in rp2040js's SIO. */
  private attachCore0(logger: Logger): void {
    const info = logger.info.bind(logger);
    logger.info = (component, message) => {
      if (message === 'SEV') this.sev(0);
      info(component, message);
    };
    const sio = this.mcu.sio;
    const read = sio.readUint32.bind(sio);
    const write = sio.writeUint32.bind(sio);
    const fifos = this.fifos;
    sio.readUint32 = (offset) => (offset === SIO_FIFO_ST ? fifos.status(0) : offset === SIO_FIFO_RD ? fifos.read(0) : read(offset));
    sio.writeUint32 = (offset, value) => {
      if (offset === SIO_FIFO_WR) {
        fifos.write(0, value);
        if (this.romWait) this.romReceive();
      } else if (offset === SIO_FIFO_ST) fifos.clearErrors(0, value);
      else write(offset, value);
    };
  }

  /** The modelled ROM takes what core 0 sent, echoes it, and launches core 1 at the end of the sequence. */
  private romReceive(): void {
    while (this.romWait && this.fifos.status(1) & 1) {
      const word = this.fifos.read(1);
      const launch = this.romWait.receive(word);
      this.fifos.write(1, word);
      if (launch) {
        this.romWait = undefined;
        const core = this.core;
        core.VTOR = launch.vtor;
        core.SP = launch.sp;
        core.PC = launch.pc & ~1;
        core.LR = 0;
        this.wake();
      }
    }
  }

  /** Peripheral interrupts to both NVICs; each SIO_IRQ_PROCn to its own core. */
  private attachInterrupts(): void {
    const mcu = this.mcu;
    const core0 = mcu.core;
    mcu.setInterrupt = (irq: number, value: boolean) => {
      if (irq !== IRQ_SIO_PROC1) core0.setInterrupt(irq, value);
      if (irq !== IRQ_SIO_PROC0) this.core1Interrupt(irq, value);
    };
  }

  private core1Interrupt(irq: number, value: boolean): void {
    const core = this.core;
    const sleeping = core.waiting;
    core.setInterrupt(irq, value);
    if (sleeping && !core.waiting && !this.held && !this.romWait) this.wake();
  }

  private setSioIrq(core: 0 | 1, level: boolean): void {
    if (core === 0) this.mcu.core.setInterrupt(IRQ_SIO_PROC0, level);
    else this.core1Interrupt(IRQ_SIO_PROC1, level);
  }

  /** PSM FRCE_OFF.PROC1: set holds core 1 in reset, cleared restarts it in the ROM. */
  private attachPsm(): void {
    const psm = (
      this.mcu.peripherals as Record<number, { writeUint32(offset: number, value: number): void; readUint32(offset: number): number }>
    )[PSM_BASE_PERIPHERAL];
    const write = psm.writeUint32.bind(psm);
    psm.writeUint32 = (offset, value) => {
      write(offset, value);
      if (offset !== PSM_FRCE_OFF) return;
      const off = (psm.readUint32(PSM_FRCE_OFF) & PSM_PROC1) !== 0;
      if (off && !this.held) {
        this.held = true;
        this.romWait = undefined;
      } else if (!off && this.held) {
        this.held = false;
        this.restart();
      }
    };
  }
}
