/**
 * CRC-16/CCITT-FALSE (also catalogued as CRC-16/IBM-3740): width 16, polynomial 0x1021, initial
 * value 0xFFFF, input and output not reflected, no final XOR. Check value: the CRC of the ASCII
 * bytes "123456789" is 0x29B1. Every frame of the serial protocol ends with this CRC of its type
 * byte and payload (doc/protocol.md).
 *
 * Computed bit by bit, as the device does (no table: a Cortex-M0+ keeps its flash for weights).
 */

export const CRC16_INIT = 0xffff;
const POLYNOMIAL = 0x1021;

/** Continues a CRC over `bytes[start, end)`; pass the result of a previous call as `crc` to chain. */
export function crc16(bytes: Uint8Array, crc = CRC16_INIT, start = 0, end = bytes.length): number {
  for (let i = start; i < end; i++) {
    crc ^= bytes[i] << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ POLYNOMIAL) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}
