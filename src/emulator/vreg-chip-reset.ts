/**
 * VREG_AND_CHIP_RESET (RP2040 datasheet 2.10.7), which rp2040js leaves unimplemented (its reads
 * give 0xffffffff). The boot ROM reads CHIP_RESET first thing: PSM_RESTART_FLAG (bit 24) set
 * means a debugger asked for a rescue, and the ROM then parks core 0 instead of booting. After a
 * power-on reset the register holds HAD_POR (bit 8) only.
 *
 * Registers: VREG (reset 0x000000b1), BOD (0x00000091), CHIP_RESET (HAD_POR, HAD_RUN,
 * HAD_PSM_RESTART read-only; PSM_RESTART_FLAG write 1 to clear).
 */
import { BasePeripheral, type RP2040 } from 'rp2040js';

const VREG = 0x0;
const BOD = 0x4;
const CHIP_RESET = 0x8;
const HAD_POR = 1 << 8;
const PSM_RESTART_FLAG = 1 << 24;

/**
 * The VREG_AND_CHIP_RESET registers, after a power-on reset (see above): enough for the boot ROM
 * to boot instead of parking core 0.
 */
export class VregAndChipReset extends BasePeripheral {
  private vreg = 0xb1;
  private bod = 0x91;
  private chipReset = HAD_POR;

  constructor(rp2040: RP2040) {
    super(rp2040, 'VREG_AND_CHIP_RESET');
  }

  override readUint32(offset: number): number {
    switch (offset) {
      case VREG:
        return this.vreg;
      case BOD:
        return this.bod;
      case CHIP_RESET:
        return this.chipReset;
    }
    return super.readUint32(offset);
  }

  override writeUint32(offset: number, value: number): void {
    switch (offset) {
      case VREG:
        this.vreg = value & 0x10f3;
        return;
      case BOD:
        this.bod = value & 0xf1;
        return;
      case CHIP_RESET:
        if (value & PSM_RESTART_FLAG) this.chipReset &= ~PSM_RESTART_FLAG;
        return;
    }
    super.writeUint32(offset, value);
  }
}
