/**
 * The RP2040's XIP_SSI (a Synopsys DW_apb_ssi, RP2040 datasheet section 4.10) in front of a
 * flash chip model (./qspi-flash.ts), in place of rp2040js's SSI, which answers every transfer
 * with zeros. Two ways in:
 *
 * - direct mode: the firmware writes frames to DR0 and reads the answers (the boot ROM reading
 *   boot2, boot2 reading and writing the status registers). Frames go out on the wire bit by
 *   bit in the frame format the registers select, in emulated time: each frame takes
 *   (frame bits / data lines) × BAUDR clk_sys cycles, chip select stays low while the TX FIFO
 *   is refilled in time, and rises when it runs dry (4.10.3), which is why firmware pushes a
 *   whole command before it waits.
 * - XIP: a read of the 0x10000000 window becomes a flash transaction built from SPI_CTRLR0
 *   (4.10.10): the instruction XIP_CMD (INST_L bits; with INST_L = 0 XIP_CMD goes after the
 *   address instead, as mode bits), the address (ADDR_L × 4 bits), WAIT_CYCLES dummy clocks,
 *   then data, on the lines TRANS_TYPE and CTRLR0.SPI_FRF choose. In the standard frame format
 *   the command and address go as one frame {XIP_CMD, address}.
 *
 * Speed: every instruction fetch from flash is an XIP read, so they cannot each be simulated bit
 * by bit. After any change (a register write, a direct-mode transfer) the next XIP read first
 * runs the transaction, bit by bit, on a copy of the chip in its current state holding a test
 * pattern, for a few addresses twice over (continuous read mode must carry from one read to the
 * next). If they all read the pattern, the configuration reads flash correctly: `xipVerified`
 * becomes true and the harness reads the flash array directly until the next change. If not,
 * every XIP read runs bit by bit on the real chip, and returns what a board would: wrong bytes.
 *
 * Registers (4.10.13): CTRLR0 (DFS_32 20:16, TMOD 9:8, SPI_FRF 22:21), CTRLR1 (NDF), SSIENR,
 * SER, BAUDR (SCKDV), TXFTLR, RXFTLR, TXFLR, RXFLR, SR, IMR/ISR/RISR and the clear registers,
 * DMACR, IDR, SSI_VERSION_ID, DR0 (and its mirrors to 0xec), RX_SAMPLE_DLY, SPI_CTRLR0
 * (TRANS_TYPE 1:0, ADDR_L 5:2, INST_L 9:8, WAIT_CYCLES 15:11, XIP_CMD 31:24), TXD_DRIVE_EDGE.
 * CTRLR0, CTRLR1, BAUDR and SPI_CTRLR0 accept writes only while SSIENR = 0, as on silicon.
 *
 * Not modelled: interrupts and DMA requests (registers kept, never raised), clock phase and
 * polarity (SCPH/SCPOL), RX_SAMPLE_DLY and DDR (the wire is ideal), the microwire and TI
 * frame formats, and the time an XIP read takes (./xip-cache.ts models that).
 */
import { BasePeripheral, type RP2040 } from 'rp2040js';
import { QspiFlash } from './qspi-flash.js';

const CTRLR0 = 0x00;
const CTRLR1 = 0x04;
const SSIENR = 0x08;
const MWCR = 0x0c;
const SER = 0x10;
const BAUDR = 0x14;
const TXFTLR = 0x18;
const RXFTLR = 0x1c;
const TXFLR = 0x20;
const RXFLR = 0x24;
const SR = 0x28;
const IMR = 0x2c;
const ISR = 0x30;
const RISR = 0x34;
const ICR_FIRST = 0x38;
const ICR_LAST = 0x48;
const DMACR = 0x4c;
const DMATDLR = 0x50;
const DMARDLR = 0x54;
const IDR = 0x58;
const VERSION_ID = 0x5c;
const DR0 = 0x60;
const DR_LAST = 0xec;
const RX_SAMPLE_DLY = 0xf0;
const SPI_CTRLR0 = 0xf4;
const TXD_DRIVE_EDGE = 0xf8;

/** SR bits (4.10.13). */
export const SR_BUSY = 1 << 0;
export const SR_TFNF = 1 << 1;
export const SR_TFE = 1 << 2;
export const SR_RFNE = 1 << 3;
export const SR_RFF = 1 << 4;

/** Both FIFOs hold 16 frames (4.10.1). */
const FIFO_DEPTH = 16;

const TMOD_TX_RX = 0;
const TMOD_TX = 1;
const TMOD_RX = 2;
const TMOD_EEPROM = 3;

/** What the SSI needs from the machine: the time, and clk_sys. */
export interface SsiHost {
  nanos(): number;
  clkSysHz(): number;
}

/** The chip select line between the SSI and the chip; IO_QSPI's override may force it (./io-qspi.ts). */
export interface ChipSelect {
  /** The SSI drives its ss_n output: true = selected (low). */
  drive(selected: boolean): void;
}

/** A configuration's XIP read: its wire format, for reports and tests. */
export interface XipFormat {
  command?: number;
  commandLanes: number;
  addressBits: number;
  addressLanes: number;
  waitCycles: number;
  dataLanes: number;
  frameBits: number;
}

interface TxEntry {
  value: number;
  at: number;
}

interface RxEntry {
  value: number;
  at: number;
}

/** Test pattern for the XIP check: byte i of a 64 KiB array. */
const PROBE_BYTES = 1 << 16;
const PROBE_PATTERN = (() => {
  const p = new Uint8Array(PROBE_BYTES);
  for (let i = 0; i < PROBE_BYTES; i++) p[i] = (i * 151 + (i >>> 8) * 29 + 0x5a) & 0xff;
  return p;
})();
/** Words the check reads: spread over the address bits, each read twice in turn. */
const PROBE_ADDRESSES = [0x1234, 0xa5a8, 0x5a50, 0x1234, 0xfffc];

/**
 * The XIP_SSI model (see above): direct-mode frames and XIP reads become bit-level transactions
 * with the flash chip behind it, timed in emulated nanoseconds.
 */
export class Ssi extends BasePeripheral {
  private ctrlr0 = 0x00070000; // DFS_32 reset value 7: 8-bit frames
  private ctrlr1 = 0;
  private ssienr = 0;
  private ser = 0;
  private baudr = 0;
  private txftlr = 0;
  private rxftlr = 0;
  private imr = 0x3f;
  private dmacr = 0;
  private dmatdlr = 0;
  private dmardlr = 0;
  private mwcr = 0;
  private rxSampleDelay = 0;
  private spiCtrlr0 = 0x03000000; // XIP_CMD reset value 03h
  private txdDriveEdge = 0;

  private readonly tx: TxEntry[] = [];
  private readonly rx: RxEntry[] = [];
  /** Start times of frames already on the wire or scheduled: they still count in TXFLR until they start. */
  private readonly scheduled: number[] = [];
  /** When the shift engine finishes what it has been given (ns). */
  private engineFree = 0;
  /** Whether the SSI holds chip select low. */
  private selecting = false;
  /** The time on the wire while a transfer is simulated (the chip's clock for tW). */
  private wireTime = 0;

  /** Whether the current configuration was checked to read flash correctly over XIP (then reads may bypass the SSI). */
  xipVerified = false;
  /** Called when `xipVerified` changes. */
  onXipChange: (verified: boolean) => void = () => {};
  /** XIP reads made while the SSI was disabled (they read 0 here; silicon would not answer). */
  xipReadsWhileDisabled = 0;

  constructor(
    rp2040: RP2040,
    readonly chip: QspiFlash,
    private readonly host: SsiHost,
    private readonly chipSelect: ChipSelect,
  ) {
    super(rp2040, 'XIP_SSI');
  }

  /** The time the chip sees (ns): the wire's time during a transfer. */
  get chipTime(): number {
    return this.wireTime;
  }

  /** Brings the wire's time to now (chip select moved by something else than a transfer: IO_QSPI's override). */
  syncWireTime(): void {
    if (!this.selecting) this.wireTime = Math.max(this.wireTime, this.host.nanos());
  }

  override readUint32(offset: number): number {
    switch (offset) {
      case CTRLR0:
        return this.ctrlr0;
      case CTRLR1:
        return this.ctrlr1;
      case SSIENR:
        return this.ssienr;
      case MWCR:
        return this.mwcr;
      case SER:
        return this.ser;
      case BAUDR:
        return this.baudr;
      case TXFTLR:
        return this.txftlr;
      case RXFTLR:
        return this.rxftlr;
      case TXFLR:
        this.advance();
        return this.txLevel();
      case RXFLR:
        this.advance();
        return this.rxLevel();
      case SR:
        return this.status();
      case IMR:
        return this.imr;
      case ISR:
      case RISR:
        return 0;
      case DMACR:
        return this.dmacr;
      case DMATDLR:
        return this.dmatdlr;
      case DMARDLR:
        return this.dmardlr;
      case IDR:
        return 0x51535049;
      case VERSION_ID:
        return 0x3430312a;
      case RX_SAMPLE_DLY:
        return this.rxSampleDelay;
      case SPI_CTRLR0:
        return this.spiCtrlr0;
      case TXD_DRIVE_EDGE:
        return this.txdDriveEdge;
    }
    if (offset >= ICR_FIRST && offset <= ICR_LAST) return 0;
    if (offset >= DR0 && offset <= DR_LAST) return this.popRx();
    return super.readUint32(offset);
  }

  override writeUint32(offset: number, value: number): void {
    value >>>= 0;
    const disabled = !(this.ssienr & 1);
    switch (offset) {
      case CTRLR0:
        if (disabled) this.ctrlr0 = value & 0x017fffff;
        return this.changed();
      case CTRLR1:
        if (disabled) this.ctrlr1 = value & 0xffff;
        return this.changed();
      case BAUDR:
        if (disabled) this.baudr = value & 0xfffe;
        return this.changed();
      case SPI_CTRLR0:
        if (disabled) this.spiCtrlr0 = value & 0xff07fb3f;
        return this.changed();
      case SSIENR:
        return this.enable(value & 1);
      case SER:
        this.ser = value & 1;
        return this.changed();
      case MWCR:
        this.mwcr = value & 7;
        return;
      case TXFTLR:
        this.txftlr = value & 0xff;
        return;
      case RXFTLR:
        this.rxftlr = value & 0xff;
        return;
      case IMR:
        this.imr = value & 0x3f;
        return;
      case DMACR:
        this.dmacr = value & 3;
        return;
      case DMATDLR:
        this.dmatdlr = value & 0xff;
        return;
      case DMARDLR:
        this.dmardlr = value & 0xff;
        return;
      case RX_SAMPLE_DLY:
        this.rxSampleDelay = value & 0xff;
        return;
      case TXD_DRIVE_EDGE:
        this.txdDriveEdge = value & 0xff;
        return;
    }
    if (offset >= DR0 && offset <= DR_LAST) return this.pushTx(value);
    super.writeUint32(offset, value);
  }

  // ---- direct mode ----

  private get frameBits(): number {
    return ((this.ctrlr0 >>> 16) & 0x1f) + 1;
  }

  private get tmod(): number {
    return (this.ctrlr0 >>> 8) & 3;
  }

  /** Data lines of the frame format: 1 (standard), 2 (dual), 4 (quad). */
  private get dataLanes(): 1 | 2 | 4 {
    const frf = (this.ctrlr0 >>> 21) & 3;
    return frf === 1 ? 2 : frf === 2 ? 4 : 1;
  }

  /** ns per SCK period. */
  private get sckNanos(): number {
    return ((this.baudr & 0xfffe) * 1e9) / this.host.clkSysHz();
  }

  private enable(on: number): void {
    if (!on) {
      // 4.10.13 SSIENR: disabling halts transfers and flushes both FIFOs
      this.deselect(this.host.nanos());
      this.tx.length = 0;
      this.rx.length = 0;
      this.scheduled.length = 0;
      this.engineFree = 0;
    }
    this.ssienr = on;
    this.changed();
  }

  private pushTx(value: number): void {
    if (!(this.ssienr & 1)) return;
    this.advance();
    if (this.txLevel() >= FIFO_DEPTH) return; // overflow: the frame is lost (TXOIR)
    this.tx.push({ value, at: this.host.nanos() });
    this.advance();
  }

  private popRx(): number {
    this.advance();
    const now = this.host.nanos();
    if (this.rx.length === 0 || this.rx[0].at > now) return 0; // underflow (RXUIR)
    return this.rx.shift()!.value;
  }

  private txLevel(): number {
    const now = this.host.nanos();
    while (this.scheduled.length && this.scheduled[0] <= now) this.scheduled.shift();
    return this.tx.length + this.scheduled.length;
  }

  private rxLevel(): number {
    const now = this.host.nanos();
    let n = 0;
    for (const e of this.rx) if (e.at <= now) n++;
    return n;
  }

  private status(): number {
    this.advance();
    const now = this.host.nanos();
    const tx = this.txLevel();
    const rx = this.rxLevel();
    const busy = this.selecting || this.engineFree > now || tx > 0;
    return (
      (busy ? SR_BUSY : 0) |
      (tx < FIFO_DEPTH ? SR_TFNF : 0) |
      (tx === 0 ? SR_TFE : 0) |
      (rx > 0 ? SR_RFNE : 0) |
      (rx >= FIFO_DEPTH ? SR_RFF : 0)
    );
  }

  /**
   * Puts on the wire everything written to DR0 up to now. Frames are exchanged with the chip at
   * once, stamped with the time they would complete; chip select rises when the TX FIFO ran dry
   * before the engine finished, which is only known once that time has passed.
   */
  private advance(): void {
    if (!(this.ssienr & 1)) return;
    const now = this.host.nanos();
    const enhanced = this.dataLanes > 1;
    for (;;) {
      if (this.selecting && this.engineFree <= now && (this.tx.length === 0 || this.tx[0].at > this.engineFree)) {
        // the FIFO ran dry: the transfer ends (EEPROM reads first receive their frames)
        if (!enhanced && this.tmod === TMOD_EEPROM) this.receiveFrames(1);
        this.deselect(this.engineFree);
        continue;
      }
      if (this.tx.length === 0) return;
      if (enhanced) {
        if (!this.enhancedTransfer()) return;
        continue;
      }
      const entry = this.tx.shift()!;
      const start = Math.max(entry.at, this.engineFree);
      this.select(start);
      this.scheduled.push(start);
      this.wireTime = start;
      if (this.tmod === TMOD_RX) {
        // receive only: a write to DR0 starts NDF + 1 frames in
        this.engineFree = start;
        this.receiveFrames(1);
        this.deselect(this.engineFree);
        continue;
      }
      const got = this.shiftFrame(entry.value, this.frameBits, 1);
      this.engineFree = start + this.frameBits * this.sckNanos;
      if (this.tmod === TMOD_TX_RX) this.pushRx(got, this.engineFree);
    }
  }

  /** One transaction in the dual/quad formats: instruction, address, wait cycles, then data. */
  private enhancedTransfer(): boolean {
    const s = this.spiCtrlr0;
    const instBits = [0, 4, 8, 16][(s >>> 8) & 3];
    const addrBits = ((s >>> 2) & 0xf) * 4;
    const needed = (instBits ? 1 : 0) + (addrBits ? 1 : 0);
    if (this.tx.length < Math.max(needed, 1)) return false;
    if (needed === 0) this.tx.shift(); // no instruction, no address: the write only starts the transfer
    const lanes = this.dataLanes;
    const transType = s & 3;
    const first = this.tx[0];
    const start = Math.max(first.at, this.engineFree);
    this.select(start);
    this.wireTime = start;
    let clocks = 0;
    if (instBits) {
      const l = transType === 2 ? lanes : 1;
      this.shiftFrame(this.tx.shift()!.value, instBits, l);
      clocks += instBits / l;
    }
    if (addrBits) {
      const l = transType === 0 ? 1 : lanes;
      this.shiftFrame(this.tx.shift()!.value, addrBits, l);
      clocks += addrBits / l;
    }
    const wait = (s >>> 11) & 0x1f;
    this.chip.idle(wait);
    clocks += wait;
    this.scheduled.push(start);
    this.engineFree = start + clocks * this.sckNanos;
    if (this.tmod === TMOD_TX) {
      while (this.tx.length) {
        this.shiftFrame(this.tx.shift()!.value, this.frameBits, lanes);
        this.engineFree += (this.frameBits / lanes) * this.sckNanos;
      }
    } else this.receiveFrames(lanes);
    this.deselect(this.engineFree);
    return true;
  }

  /** NDF + 1 frames in, on `lanes` lines. */
  private receiveFrames(lanes: 1 | 2 | 4): void {
    const frames = this.ctrlr1 + 1;
    const bits = this.frameBits;
    for (let i = 0; i < frames; i++) {
      const value = this.shiftFrame(lanes === 1 ? 0 : ~0, bits, lanes, true);
      this.engineFree += (bits / lanes) * this.sckNanos;
      this.pushRx(value, this.engineFree);
    }
  }

  private pushRx(value: number, at: number): void {
    if (this.rx.length < FIFO_DEPTH) this.rx.push({ value: value >>> 0, at });
  }

  /**
   * `bits` bits of `value` out, most significant first, on `lanes` lines (one: IO0), and as many
   * in (one line: from IO1). `receiving`: the SSI drives nothing (multi-line input).
   */
  private shiftFrame(value: number, bits: number, lanes: 1 | 2 | 4, receiving = false): number {
    return shiftBits(this.chip, value, bits, lanes, receiving);
  }

  private select(at: number): void {
    if (this.selecting) return;
    this.wireTime = at;
    this.selecting = true;
    if (this.ser & 1) this.chipSelect.drive(true);
  }

  private deselect(at: number): void {
    if (!this.selecting) return;
    this.wireTime = at;
    this.selecting = false;
    this.chipSelect.drive(false);
    this.changed();
  }

  // ---- XIP ----

  /** Something that could change how an XIP read goes: check again at the next one. */
  private changed(): void {
    if (this.xipVerified) {
      this.xipVerified = false;
      this.onXipChange(false);
    }
  }

  /** The XIP transaction the registers describe (undefined while disabled). */
  get xipFormat(): XipFormat | undefined {
    if (!(this.ssienr & 1)) return undefined;
    const s = this.spiCtrlr0;
    const lanes = this.dataLanes;
    const frameBits = this.frameBits;
    if (lanes === 1)
      return { command: (s >>> 24) & 0xff, commandLanes: 1, addressBits: 24, addressLanes: 1, waitCycles: 0, dataLanes: 1, frameBits };
    const instBits = [0, 4, 8, 16][(s >>> 8) & 3];
    const transType = s & 3;
    return {
      command: instBits ? (s >>> 24) & 0xff : undefined,
      commandLanes: transType === 2 ? lanes : 1,
      addressBits: ((s >>> 2) & 0xf) * 4,
      addressLanes: transType === 0 ? 1 : lanes,
      waitCycles: (s >>> 11) & 0x1f,
      dataLanes: lanes,
      frameBits,
    };
  }

  /**
   * One XIP read of the 32-bit word at `offset` (a flash offset, multiple of 4), bit by bit on
   * `chip`: what the AHB gets (the first byte on the wire is the lowest byte of the word).
   */
  private xipTransaction(chip: QspiFlash, offset: number): number {
    const f = this.xipFormat!;
    const s = this.spiCtrlr0;
    chip.select();
    if (f.dataLanes === 1) {
      // standard format: one frame {XIP_CMD, address}, then frames in
      shiftBits(chip, ((((s >>> 24) & 0xff) << 24) | (offset & 0xffffff)) >>> 0, f.frameBits, 1);
    } else {
      if (f.command !== undefined) shiftBits(chip, f.command, [0, 4, 8, 16][(s >>> 8) & 3], f.commandLanes as 1 | 2 | 4);
      // with no instruction, XIP_CMD follows the address: the mode bits of continuous read
      const address = f.command === undefined ? ((offset & 0xffffff) << 8) | ((s >>> 24) & 0xff) : offset & 0xffffff;
      const addrBits = f.addressBits;
      if (addrBits) shiftBits(chip, addrBits >= 32 ? address : address & ((1 << addrBits) - 1), addrBits, f.addressLanes as 1 | 2 | 4);
      chip.idle(f.waitCycles);
    }
    let word = 0;
    for (let got = 0; got < 32; got += f.frameBits) {
      const bits = Math.min(f.frameBits, 32 - got);
      const frame = shiftBits(chip, f.dataLanes === 1 ? 0 : ~0, f.frameBits, f.dataLanes as 1 | 2 | 4, true);
      word = bits === 32 ? frame : ((word << bits) | (frame >>> (f.frameBits - bits))) >>> 0;
    }
    chip.deselect();
    // the wire carries bytes in address order, most significant bit first: byte-swap for the bus
    return (((word & 0xff) << 24) | ((word & 0xff00) << 8) | ((word >>> 8) & 0xff00) | (word >>> 24)) >>> 0;
  }

  /**
   * Whether XIP reads with this configuration read the flash as it is, from the chip's current
   * state: run on a copy holding a test pattern, for several addresses, twice.
   */
  private checkXip(): boolean {
    if (!(this.ssienr & 1) || !(this.ser & 1) || (this.baudr & 0xfffe) === 0) return false;
    const probe = new QspiFlash({ ...this.chip.spec, capacityBytes: PROBE_BYTES }, PROBE_PATTERN, () => this.wireTime);
    probe.restore(this.chip.snapshot());
    for (const a of PROBE_ADDRESSES) {
      const expected = (PROBE_PATTERN[a] | (PROBE_PATTERN[a + 1] << 8) | (PROBE_PATTERN[a + 2] << 16) | (PROBE_PATTERN[a + 3] << 24)) >>> 0;
      if (this.xipTransaction(probe, a) !== expected) return false;
    }
    // the real chip ends in the state the reads leave (continuous read mode, say)
    this.chip.restore(probe.snapshot());
    return true;
  }

  /**
   * An XIP read of the 32-bit word holding flash offset `offset`: checks the configuration if it
   * changed; when it reads correctly, returns the array's word and sets `xipVerified`; otherwise
   * runs the transaction on the chip, as a board would.
   */
  xipRead32(offset: number): number {
    offset = offset & 0xfffffc;
    this.advance();
    if (!(this.ssienr & 1)) {
      this.xipReadsWhileDisabled++;
      return 0;
    }
    if (!this.xipVerified && this.checkXip()) {
      this.xipVerified = true;
      this.onXipChange(true);
    }
    const m = this.chip.memory;
    const cap = this.chip.spec.capacityBytes;
    if (this.xipVerified) {
      const o = offset % cap;
      return (m[o] | (m[o + 1] << 8) | (m[o + 2] << 16) | (m[o + 3] << 24)) >>> 0;
    }
    this.wireTime = this.host.nanos();
    return this.xipTransaction(this.chip, offset);
  }
}

/** Shifts `bits` bits of `value` to `chip` on `lanes` lines, most significant first, and returns the bits read back. */
export function shiftBits(chip: QspiFlash, value: number, bits: number, lanes: 1 | 2 | 4, receiving = false): number {
  let got = 0;
  const mask = (1 << lanes) - 1;
  for (let shift = bits - lanes; shift >= 0; shift -= lanes) {
    const out = (value >>> shift) & mask;
    // one line: the SSI drives IO0 and reads IO1; more: it drives the lines when sending, releases them when receiving
    const io = lanes === 1 ? 0xe | out : receiving ? 0xf : (0xf & ~mask) | out;
    const back = chip.clock(io);
    got = got * (1 << lanes) + (lanes === 1 ? (back >> 1) & 1 : back & mask);
  }
  return got >>> 0;
}
