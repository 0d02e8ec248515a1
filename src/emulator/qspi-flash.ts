/**
 * A Winbond W25Q-JV serial NOR flash chip on the RP2040's QSPI bus, clock by clock, as its
 * datasheet describes it (W25Q16JV rev. H and W25Q128JV: section 8, "Instructions"). The Pico
 * carries a W25Q16JV (2 MB); the W25Q128JV (16 MB) fills the whole XIP window.
 *
 * The host (src/emulator/ssi.ts) drives chip select and, for every SCK period, the levels of the
 * four data lines it drives; the chip answers with the levels it drives. Lines are numbered IO0
 * (DI in the single-line instructions), IO1 (DO), IO2 (/WP), IO3 (/HOLD). A line nobody drives
 * reads 1 in this model (on the board it floats). Bits go most significant first; on two lines
 * IO1 carries the higher bit of each pair, on four lines IO3 the highest of each nibble.
 *
 *   const chip = new QspiFlash(W25Q16JV, memory);
 *   chip.select();
 *   for (const bit of bitsOf(0x9f)) chip.clock(bit);   // the instruction, on IO0
 *   const idBit = (chip.clock(1) >> 1) & 1;              // the answer, on IO1
 *   chip.deselect();
 *
 * What is modelled (section numbers of the W25Q16JV datasheet, rev. H):
 * - reads: 03h Read Data (8.2.6), 0Bh Fast Read, 8 dummy clocks (8.2.7), 3Bh Fast Read Dual
 *   Output, 8 dummy clocks (8.2.8), 6Bh Fast Read Quad Output, 8 dummy clocks (8.2.9), BBh Fast
 *   Read Dual I/O: address and mode bits M7-0 on two lines, no dummy clocks (8.2.10), EBh Fast
 *   Read Quad I/O: address and M7-0 on four lines, then 4 dummy clocks (8.2.11). After BBh or EBh
 *   with M5-4 = 10b (e.g. M7-0 = A0h, "x10xxxxx") the chip stays in continuous read mode: the
 *   next transaction starts straight with the address, without the instruction; any other M5-4
 *   ends it. The quad instructions (6Bh, EBh) need the Quad Enable bit: without it the chip
 *   ignores them (IO2 and IO3 are /WP and /HOLD then). The address counter wraps at the end of
 *   the array.
 * - status: 05h/35h/15h Read Status Register 1/2/3, repeated while clocked (8.2.4, allowed while
 *   busy); 06h Write Enable and 04h Write Disable (8.2.1, 8.2.3); 01h Write Status Register 1,
 *   optionally followed by register 2 in the same transaction, 31h register 2, 11h register 3
 *   (8.2.5): only with WEL set, only on a byte boundary; after /CS rises the chip is busy for
 *   tW (10 ms typical, section 9.6) with BUSY = 1, then WEL clears. Status register 2 bit 1 is
 *   QE (section 7.1.10). While busy only the status reads are accepted.
 * - identification: 9Fh JEDEC ID (EFh, 40h, 15h/18h), ABh Release Power-down / Device ID (3
 *   dummy bytes, then 14h/17h, repeated), 4Bh Read Unique ID (4 dummy bytes, then 64 bits), B9h
 *   Power-down (only ABh is accepted after it).
 * - 66h Enable Reset, then 99h Reset Device (8.2.43): continuous read mode and WEL cleared (in
 *   continuous read mode the chip hears only addresses: the host must end it with mode bits first).
 *
 * Not modelled: programming and erasing (02h, 20h, D8h, …: ignored; the array is what the
 * harness loads), QPI mode (38h), the security registers, SFDP, suspend/resume, write protection
 * by BP bits, DDR, and time other than tW (tRES1, tRST: the chip answers at once).
 */

/** What distinguishes one W25Q-JV chip from another, from its datasheet. */
export interface FlashChipSpec {
  name: string;
  capacityBytes: number;
  /** 9Fh: manufacturer, memory type, capacity. */
  jedecId: readonly [number, number, number];
  /** ABh: the device ID after 3 dummy bytes. */
  deviceId: number;
  /** tW, the Write Status Register time (typical), in nanoseconds. */
  statusWriteNanos: number;
}

export const W25Q16JV: FlashChipSpec = {
  name: 'W25Q16JV',
  capacityBytes: 2 * 1024 * 1024,
  jedecId: [0xef, 0x40, 0x15],
  deviceId: 0x14,
  statusWriteNanos: 10e6,
};
export const W25Q128JV: FlashChipSpec = {
  name: 'W25Q128JV',
  capacityBytes: 16 * 1024 * 1024,
  jedecId: [0xef, 0x40, 0x18],
  deviceId: 0x17,
  statusWriteNanos: 10e6,
};
export const FLASH_CHIPS: readonly FlashChipSpec[] = [W25Q16JV, W25Q128JV];

/**
 * The board's chip for an image of `bytes`: the Pico's W25Q16JV when the image fits its 2 MB, else
 * the smallest chip that holds it (a build for a 16 MB board, `--flash-size 16M`, gets the
 * W25Q128JV of such boards); the largest when none does (the load then says the image is too big).
 */
export function flashChipFor(bytes: number): FlashChipSpec {
  return FLASH_CHIPS.find((chip) => chip.capacityBytes >= bytes) ?? FLASH_CHIPS[FLASH_CHIPS.length - 1];
}

/** Status register bits (section 7.1). */
export const SR1_BUSY = 1 << 0;
export const SR1_WEL = 1 << 1;
export const SR2_QE = 1 << 1;
/** Writable bits: SR1 SRP, SEC, TB, BP2-0; SR2 CMP, LB3-1, QE, SRL; SR3 DRV1-0, WPS. */
const SR1_WRITABLE = 0xfc;
const SR2_WRITABLE = 0x7b;
const SR3_WRITABLE = 0x64;
/** LB3-1 are one-time programmable: once 1, a write cannot clear them. */
const SR2_OTP = 0x38;

/** How many lines a phase uses. */
type Lanes = 1 | 2 | 4;

/** An instruction's shape after its 8 instruction clocks. */
interface Instruction {
  addressLanes?: Lanes;
  /** M7-0 after the address (BBh, EBh). */
  modeBits?: boolean;
  dummyClocks: number;
  dataLanes: Lanes;
  needsQuad?: boolean;
}

const READS: Record<number, Instruction> = {
  0x03: { addressLanes: 1, dummyClocks: 0, dataLanes: 1 },
  0x0b: { addressLanes: 1, dummyClocks: 8, dataLanes: 1 },
  0x3b: { addressLanes: 1, dummyClocks: 8, dataLanes: 2 },
  0x6b: { addressLanes: 1, dummyClocks: 8, dataLanes: 4, needsQuad: true },
  0xbb: { addressLanes: 2, modeBits: true, dummyClocks: 0, dataLanes: 2 },
  0xeb: { addressLanes: 4, modeBits: true, dummyClocks: 4, dataLanes: 4, needsQuad: true },
};

/**
 * Where a transaction is: `alone` = an instruction that acts when /CS rises right after it (06h,
 * 04h, B9h, 66h, 99h); `ignore` = nothing more to do until /CS rises.
 */
type Phase = 'instruction' | 'address' | 'mode' | 'dummy' | 'read' | 'output' | 'input' | 'alone' | 'ignore';

/** The state that lasts between transactions (what `snapshot` copies). */
export interface ChipState {
  status1: number;
  status2: number;
  status3: number;
  /** The read instruction continuous read mode repeats (BBh or EBh), if in it. */
  continuous?: number;
  resetEnabled: boolean;
  poweredDown: boolean;
  /** Until when (ns) a status write keeps the chip busy. */
  busyUntil: number;
  /** The status registers that write will leave. */
  pending?: [number, number, number];
}

/**
 * A W25Q-JV flash chip: the host selects it and clocks it bit by bit (see above); it answers reads
 * from `memory` and keeps status registers, busy time and power-down as the datasheet says
 * (program and erase are ignored).
 */
export class QspiFlash {
  /** As shipped: QE clear (the IQ parts), no protection; SR3 0x60 = DRV1-0 11b, the default output drive (section 7.1). */
  private state: ChipState = { status1: 0, status2: 0, status3: 0x60, resetEnabled: false, poweredDown: false, busyUntil: 0 };
  // the transaction in progress
  private selected = false;
  private phase: Phase = 'ignore';
  private lanes: Lanes = 1;
  private shift = 0;
  private bits = 0;
  private instruction = 0;
  private read?: Instruction;
  private address = 0;
  private dummyLeft = 0;
  /** Bytes to send (status, ids) and the position in them; for reads, the array from `address`. */
  private output: readonly number[] = [];
  private outputIndex = 0;
  private outputByte = 0;
  private outputBitsLeft = 0;
  private input: number[] = [];

  /**
   * `memory`: the array (at least `spec.capacityBytes`; only that much is used). `now`: the time
   * in nanoseconds (for tW); default: the chip is never busy for long (time stands still).
   * `uniqueId`: the 64-bit factory ID 4Bh reads (8 bytes).
   */
  constructor(
    readonly spec: FlashChipSpec,
    readonly memory: Uint8Array = new Uint8Array(spec.capacityBytes).fill(0xff),
    private readonly now: () => number = () => 0,
    readonly uniqueId: readonly number[] = [0xe6, 0x60, 0x58, 0x38, 0x83, 0x2a, 0x42, 0x2f],
  ) {
    if (memory.length < spec.capacityBytes)
      throw new Error(`QspiFlash: ${spec.name} needs ${spec.capacityBytes} bytes of memory, got ${memory.length}`);
    if (uniqueId.length !== 8) throw new Error('QspiFlash: the unique ID is 8 bytes');
  }

  /** Status register 1..3 as a status read would return them now. */
  status(register: 1 | 2 | 3): number {
    this.settle();
    const s = this.state;
    return register === 1 ? s.status1 : register === 2 ? s.status2 : s.status3;
  }

  /** Whether the chip is in continuous read mode (after BBh/EBh with M5-4 = 10b): its read instruction. */
  get continuousRead(): number | undefined {
    return this.state.continuous;
  }

  /** The lasting state (status registers, modes), to restore with `restore`: a probe can run on the chip and leave no trace. */
  snapshot(): ChipState {
    return { ...this.state, pending: this.state.pending && [...this.state.pending] };
  }

  restore(state: ChipState): void {
    this.state = { ...state, pending: state.pending && [...state.pending] };
  }

  /** /CS falls: a transaction starts. */
  select(): void {
    if (this.selected) return;
    this.settle();
    this.selected = true;
    this.shift = this.bits = 0;
    this.input = [];
    this.output = [];
    this.outputBitsLeft = 0;
    this.read = undefined;
    const c = this.state.continuous;
    if (c !== undefined) {
      // continuous read: no instruction, the address comes at once (8.2.10, 8.2.11)
      this.instruction = c;
      this.read = READS[c];
      this.enter('address', this.read.addressLanes!);
    } else {
      this.enter('instruction', 1);
    }
  }

  /** /CS rises: the transaction ends; writes take effect if they ended on a byte boundary. */
  deselect(): void {
    if (!this.selected) return;
    this.selected = false;
    const whole = this.bits === 0; // no partial byte, no clock after the instruction
    if (this.phase === 'alone' && whole) this.completeInstruction();
    else if (this.phase === 'input' && whole) this.completeWrite();
    this.phase = 'ignore';
  }

  /**
   * One SCK period: `io` holds the levels the host drives on IO3..IO0 (bits it does not drive
   * should be 1); returns the levels the chip drives on IO3..IO0, 1 where it does not drive. The
   * chip samples on the rising edge and shifts out on the falling one; a host that samples what
   * this returns after the clock reads the bit of this period.
   */
  clock(io: number): number {
    if (!this.selected) return 0xf;
    switch (this.phase) {
      case 'instruction':
      case 'address':
      case 'mode':
      case 'input':
        this.take(io);
        return 0xf;
      case 'dummy':
        if (--this.dummyLeft === 0) this.startRead();
        return 0xf;
      case 'alone':
        this.bits++; // a clock after the instruction: it will not act
        return 0xf;
      case 'read':
      case 'output':
        return this.give();
      default:
        return 0xf;
    }
  }

  /** Clocks whole bytes in on `lanes` lines and returns what the chip put on the same lines: a helper for hosts and tests. */
  exchange(bytes: readonly number[], lanes: Lanes = 1): number[] {
    const received: number[] = [];
    const mask = (1 << lanes) - 1;
    for (const byte of bytes) {
      let got = 0;
      for (let shift = 8 - lanes; shift >= 0; shift -= lanes) {
        const out = (byte >> shift) & mask;
        const io = lanes === 1 ? 0xe | out : (0xf & ~mask) | out;
        const back = this.clock(io);
        got = (got << lanes) | (lanes === 1 ? (back >> 1) & 1 : back & mask);
      }
      received.push(got);
    }
    return received;
  }

  /** Clocks `count` dummy periods with every line released. */
  idle(count: number): void {
    for (let i = 0; i < count; i++) this.clock(0xf);
  }

  // ---- the state machine ----

  private enter(phase: Phase, lanes: Lanes): void {
    this.phase = phase;
    this.lanes = lanes;
    this.shift = 0;
    this.bits = 0;
  }

  /** Shifts in one period's bits; acts at the end of each field. */
  private take(io: number): void {
    const lanes = this.lanes;
    const sample = lanes === 1 ? io & 1 : io & ((1 << lanes) - 1);
    this.shift = (this.shift << lanes) | sample;
    this.bits += lanes;
    switch (this.phase) {
      case 'instruction':
        if (this.bits === 8) this.decode(this.shift & 0xff);
        return;
      case 'address':
        if (this.bits === 24) {
          this.address = this.shift & 0xffffff;
          if (this.read!.modeBits) this.enter('mode', this.read!.addressLanes!);
          else this.afterAddress();
        }
        return;
      case 'mode':
        if (this.bits === 8) {
          // M5-4 = 10b: the next transaction needs no instruction (8.2.10, 8.2.11)
          this.state.continuous = (this.shift & 0x30) === 0x20 ? this.instruction : undefined;
          this.afterAddress();
        }
        return;
      case 'input':
        if (this.bits === 8) {
          this.input.push(this.shift & 0xff);
          this.shift = this.bits = 0;
        }
        return;
    }
  }

  private afterAddress(): void {
    const read = this.read!;
    if (read.dummyClocks > 0) {
      this.phase = 'dummy';
      this.dummyLeft = read.dummyClocks;
    } else this.startRead();
  }

  private startRead(): void {
    this.phase = 'read';
    this.lanes = this.read!.dataLanes;
    this.outputBitsLeft = 0;
  }

  private decode(instruction: number): void {
    this.instruction = instruction;
    const s = this.state;
    // 66h must come right before 99h: any other instruction disarms the reset (8.2.43)
    this.resetArmed = s.resetEnabled;
    s.resetEnabled = false;
    const busy = this.now() < s.busyUntil;
    this.shift = this.bits = 0;
    const statusRead = instruction === 0x05 || instruction === 0x35 || instruction === 0x15;
    if (s.poweredDown && instruction !== 0xab) return void (this.phase = 'ignore');
    if (busy && !statusRead) return void (this.phase = 'ignore'); // 8.2.5: only status reads while busy
    const read = READS[instruction];
    if (read) {
      if (read.needsQuad && !(s.status2 & SR2_QE)) return void (this.phase = 'ignore');
      this.read = read;
      this.enter('address', read.addressLanes!);
      return;
    }
    switch (instruction) {
      case 0x05:
      case 0x35:
      case 0x15:
        return this.send([], () => this.status(instruction === 0x05 ? 1 : instruction === 0x35 ? 2 : 3));
      case 0x9f:
        return this.send([...this.spec.jedecId]);
      case 0xab:
        s.poweredDown = false;
        return this.send([0xff, 0xff, 0xff], () => this.spec.deviceId);
      case 0x4b:
        return this.send([0xff, 0xff, 0xff, 0xff, ...this.uniqueId]);
      case 0x01:
      case 0x31:
      case 0x11:
        return this.enter('input', 1);
      case 0x06:
      case 0x04:
      case 0xb9:
      case 0x66:
      case 0x99:
        return this.enter('alone', 1);
      default:
        // not modelled (program, erase, QPI, …): ignored
        this.phase = 'ignore';
    }
  }

  /** Whether 66h came right before this instruction. */
  private resetArmed = false;

  /** 06h, 04h, B9h, 66h, 99h: the instruction alone, /CS high after its 8th bit. */
  private completeInstruction(): void {
    const s = this.state;
    const instruction = this.instruction;
    switch (instruction) {
      case 0x06:
        s.status1 |= SR1_WEL;
        return;
      case 0x04:
        s.status1 &= ~SR1_WEL;
        return;
      case 0xb9:
        s.poweredDown = true;
        return;
      case 0x66:
        s.resetEnabled = true;
        return;
      case 0x99:
        if (this.resetArmed) {
          // 8.2.43: back to the power-on state: volatile bits cleared, continuous read mode ended
          s.continuous = undefined;
          s.status1 &= ~SR1_WEL;
        }
        return;
    }
  }

  /** 01h/31h/11h ended: the write starts if WEL was set (8.2.5). */
  private completeWrite(): void {
    const s = this.state;
    if (!(s.status1 & SR1_WEL) || this.input.length === 0) return;
    let [r1, r2, r3] = [s.status1, s.status2, s.status3];
    const value = (old: number, byte: number, writable: number) => (old & ~writable) | (byte & writable);
    if (this.instruction === 0x01) {
      r1 = value(r1, this.input[0], SR1_WRITABLE);
      if (this.input.length > 1) r2 = value(r2, this.input[1], SR2_WRITABLE) | (s.status2 & SR2_OTP);
    } else if (this.instruction === 0x31) r2 = value(r2, this.input[0], SR2_WRITABLE) | (s.status2 & SR2_OTP);
    else r3 = value(r3, this.input[0], SR3_WRITABLE);
    s.pending = [r1 & ~(SR1_BUSY | SR1_WEL), r2, r3];
    s.busyUntil = this.now() + this.spec.statusWriteNanos;
    s.status1 |= SR1_BUSY;
    this.settle();
  }

  /** Ends a status write whose tW has passed: BUSY and WEL clear, the new values stand. */
  private settle(): void {
    const s = this.state;
    if (s.pending && this.now() >= s.busyUntil) {
      [s.status1, s.status2, s.status3] = s.pending;
      s.pending = undefined;
    }
  }

  /**
   * Output phase: `bytes` on DO, then `repeat()` for as long as the host clocks (status reads,
   * the device ID), or 1s. The dummy bytes of ABh and 4Bh are clocked in by the host, the chip
   * ignores them: sending 1s meanwhile is the same on the wire for a host that does not look.
   */
  private send(bytes: number[], repeat?: () => number): void {
    this.phase = 'output';
    this.lanes = 1;
    this.output = bytes;
    this.outputIndex = 0;
    this.outputBitsLeft = 0;
    this.repeat = repeat;
  }

  private repeat?: () => number;

  /** Shifts out one period's bits: the next bits of the array (reads) or of the output bytes. */
  private give(): number {
    const lanes = this.lanes;
    if (this.outputBitsLeft === 0) {
      if (this.phase === 'read') {
        this.outputByte = this.memory[this.address];
        this.address = (this.address + 1) % this.spec.capacityBytes;
      } else if (this.outputIndex < this.output.length) this.outputByte = this.output[this.outputIndex++];
      else this.outputByte = this.repeat ? this.repeat() : 0xff;
      this.outputBitsLeft = 8;
    }
    this.outputBitsLeft -= lanes;
    const bits = (this.outputByte >> this.outputBitsLeft) & ((1 << lanes) - 1);
    // one line: DO is IO1; the other lines stay released
    return lanes === 1 ? 0xd | (bits << 1) : (0xf & ~((1 << lanes) - 1)) | bits;
  }
}
