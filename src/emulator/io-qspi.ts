/**
 * IO_QSPI (RP2040 datasheet 2.19.6.2), for the one pin whose path matters to the flash: the chip
 * select, QSPI_SS. The SSI drives it when the pin's FUNCSEL is 0 (XIP); the boot ROM overrides it
 * (CTRL.OUTOVER: 2 = drive low, 3 = drive high) to hold the chip selected across several SSI
 * transfers and to send the flash its exit-XIP sequence. rp2040js has no IO_QSPI (its registers
 * read as unimplemented), so this model stands at 0x40018000 when the harness boots through the
 * boot ROM.
 *
 * Registers: GPIO_QSPI_{SCLK,SS,SD0..SD3}_STATUS/CTRL (0x00..0x2c), INTR and the interrupt
 * enables (kept, no interrupts raised). STATUS reads 0 except that it reports SS's level.
 */
import { BasePeripheral, type RP2040 } from 'rp2040js';
import type { ChipSelect } from './ssi.js';

const PINS = 6;
const SS = 1;
const CTRL_FUNCSEL = 0x1f;
const OUTOVER_SHIFT = 8;
/** GPIO_QSPI_x_CTRL reset value: FUNCSEL 0x1f (null). */
const CTRL_RESET = 0x1f;
const FUNCSEL_XIP = 0;

/**
 * The IO_QSPI block, modelling only QSPI_SS: the flash chip is selected by the SSI's ss_n or by
 * the boot ROM's OUTOVER, and `chipSelect` hears every change of level.
 */
export class IoQspi extends BasePeripheral implements ChipSelect {
  private readonly ctrl = new Array<number>(PINS).fill(CTRL_RESET);
  private readonly other = new Map<number, number>();
  private ssiSelects = false;
  private chipSelected = false;

  /** `chipSelect`: the flash chip's /CS (true = low = selected). `beforeChange`: called before the level moves. */
  constructor(
    rp2040: RP2040,
    private readonly chipSelect: (selected: boolean) => void,
    private readonly beforeChange: () => void = () => {},
  ) {
    super(rp2040, 'IO_QSPI');
  }

  /** The SSI's ss_n output. */
  drive(selected: boolean): void {
    this.ssiSelects = selected;
    this.update();
  }

  override readUint32(offset: number): number {
    if (offset < PINS * 8) {
      const pin = offset >> 3;
      if (offset & 4) return this.ctrl[pin];
      return pin === SS && !this.chipSelected ? 1 << 17 : 0; // STATUS.INFROMPAD: the pin's level
    }
    return this.other.get(offset) ?? 0;
  }

  override writeUint32(offset: number, value: number): void {
    if (offset < PINS * 8) {
      if (offset & 4) {
        this.ctrl[offset >> 3] = value & 0x3303331f;
        this.update();
      }
      return;
    }
    this.other.set(offset, value >>> 0);
  }

  /** /CS is low when OUTOVER drives it low, or when the SSI selects through FUNCSEL 0 (OUTOVER 0) or inverted (1). */
  private update(): void {
    const ctrl = this.ctrl[SS];
    const outover = (ctrl >>> OUTOVER_SHIFT) & 3;
    const fromSsi = (ctrl & CTRL_FUNCSEL) === FUNCSEL_XIP && this.ssiSelects;
    const low =
      outover === 2 ? true : outover === 3 ? false : outover === 1 ? (ctrl & CTRL_FUNCSEL) === FUNCSEL_XIP && !this.ssiSelects : fromSsi;
    if (low === this.chipSelected) return;
    this.beforeChange();
    this.chipSelected = low;
    this.chipSelect(low);
  }
}
