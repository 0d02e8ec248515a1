/**
 * The SIO's two inter-core FIFOs (RP2040 datasheet 2.3.1.4): 8 words of 32 bits each way, core 0
 * to core 1 and back. Each core sees its own ends at the same addresses: FIFO_WR pushes to the
 * other core, FIFO_RD pops what the other core sent, and FIFO_ST says
 *
 *   bit 0 VLD  its RX FIFO holds data,          bit 2 WOF  it wrote to a full TX FIFO (the write was lost),
 *   bit 1 RDY  its TX FIFO has room,            bit 3 ROE  it read an empty RX FIFO (the read gave 0);
 *
 * WOF and ROE are sticky until the core writes FIFO_ST with their bits set. A core's
 * SIO_IRQ_PROCn is high while VLD, WOF or ROE is set in its FIFO_ST.
 */

/** FIFO_ST bits. */
export const FIFO_VLD = 1 << 0;
export const FIFO_RDY = 1 << 1;
export const FIFO_WOF = 1 << 2;
export const FIFO_ROE = 1 << 3;
/** Words each FIFO holds. */
export const FIFO_DEPTH = 8;

/** The two FIFOs and each core's sticky error flags; `setIrq` hears each core's SIO_IRQ_PROCn level. */
export class InterCoreFifos {
  /** rx[n]: the words waiting for core n, oldest first. */
  private readonly rx: [number[], number[]] = [[], []];
  private readonly errors = [0, 0];
  private readonly irq = [false, false];

  constructor(private readonly setIrq: (core: 0 | 1, level: boolean) => void) {}

  /** Core `core`'s FIFO_ST. */
  status(core: 0 | 1): number {
    return (this.rx[core].length > 0 ? FIFO_VLD : 0) | (this.rx[1 - core].length < FIFO_DEPTH ? FIFO_RDY : 0) | this.errors[core];
  }

  /** Core `core` writes FIFO_WR: the word goes to the other core, or is lost (WOF) when its FIFO is full. */
  write(core: 0 | 1, word: number): void {
    const tx = this.rx[1 - core];
    if (tx.length < FIFO_DEPTH) tx.push(word >>> 0);
    else this.errors[core] |= FIFO_WOF;
    this.update();
  }

  /** Core `core` reads FIFO_RD: the oldest word sent to it, or 0 and ROE when there is none. */
  read(core: 0 | 1): number {
    const rx = this.rx[core];
    let word = 0;
    if (rx.length > 0) word = rx.shift()!;
    else this.errors[core] |= FIFO_ROE;
    this.update();
    return word;
  }

  /** Core `core` writes FIFO_ST: the WOF and ROE bits set in `value` are cleared. */
  clearErrors(core: 0 | 1, value: number): void {
    this.errors[core] &= ~(value & (FIFO_WOF | FIFO_ROE));
    this.update();
  }

  /** Empties core `core`'s RX FIFO (what the boot ROM does for core 1 when it starts). */
  drain(core: 0 | 1): void {
    this.rx[core].length = 0;
    this.update();
  }

  private update(): void {
    for (const core of [0, 1] as const) {
      const level = (this.status(core) & (FIFO_VLD | FIFO_WOF | FIFO_ROE)) !== 0;
      if (level !== this.irq[core]) {
        this.irq[core] = level;
        this.setIrq(core, level);
      }
    }
  }
}
