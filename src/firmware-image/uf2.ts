/**
 * UF2, the file format the RP2040's boot ROM accepts on its USB drive (BOOTSEL mode): a
 * sequence of independent 512-byte blocks, each carrying 256 bytes for one flash address, so
 * the drive can take them in any order. Every block (little-endian 32-bit words):
 *
 *   0   0x0A324655  first magic ("UF2\n")
 *   4   0x9E5D5157  second magic
 *   8   flags       0x00002000: the family id field is present
 *   12  address     where the payload goes (0x10000000 + offset, 256-byte aligned)
 *   16  256         payload bytes (the RP2040 boot ROM accepts only 256)
 *   20  n           block number, from 0
 *   24  count       number of blocks in the file
 *   28  family id   0xe48bff56 for the RP2040
 *   32  payload, zero-padded to 476 bytes
 *   508 0x0AB16F30  final magic
 */
import { UserError } from '../util/errors.js';

export const UF2_BLOCK_BYTES = 512;
export const UF2_DATA_BYTES = 476;
export const UF2_MAGIC_START0 = 0x0a324655;
export const UF2_MAGIC_START1 = 0x9e5d5157;
export const UF2_MAGIC_END = 0x0ab16f30;
export const UF2_FLAG_NOT_MAIN_FLASH = 0x00000001;
export const UF2_FLAG_FAMILY_ID_PRESENT = 0x00002000;
export const RP2040_FAMILY_ID = 0xe48bff56;
export const RP2040_FLASH_BASE = 0x10000000;
/** The payload per block the RP2040 boot ROM requires. */
export const RP2040_PAYLOAD_BYTES = 256;

export interface Uf2EncodeOptions {
  /** The address of the image's first byte (default 0x10000000, the start of flash). */
  baseAddress?: number;
  familyId?: number;
  /** Payload bytes per block (default 256); the base address must be a multiple of it. */
  payloadBytes?: number;
}

/** Encodes a flat image as UF2, one block per 256 bytes; the last block is zero-padded. */
export function encodeUf2(image: Uint8Array, options: Uf2EncodeOptions = {}): Buffer {
  const base = options.baseAddress ?? RP2040_FLASH_BASE;
  const familyId = options.familyId ?? RP2040_FAMILY_ID;
  const payload = options.payloadBytes ?? RP2040_PAYLOAD_BYTES;
  if (!Number.isInteger(payload) || payload <= 0 || payload > UF2_DATA_BYTES || payload % 4 !== 0) {
    throw new UserError(`a UF2 payload must be a multiple of 4 bytes from 4 to ${UF2_DATA_BYTES}, got ${payload}.`);
  }
  if (!Number.isInteger(base) || base < 0 || base % payload !== 0) {
    throw new UserError(`the UF2 base address must be a multiple of ${payload}, got 0x${base.toString(16)}.`);
  }
  if (image.length === 0) throw new UserError('cannot make a UF2 file from an empty image.');
  if (base + image.length > 0x100000000) throw new UserError('the image reaches past the 32-bit address space.');
  const count = Math.ceil(image.length / payload);
  const out = Buffer.alloc(count * UF2_BLOCK_BYTES);
  for (let n = 0; n < count; n++) {
    const block = out.subarray(n * UF2_BLOCK_BYTES, (n + 1) * UF2_BLOCK_BYTES);
    block.writeUInt32LE(UF2_MAGIC_START0, 0);
    block.writeUInt32LE(UF2_MAGIC_START1, 4);
    block.writeUInt32LE(UF2_FLAG_FAMILY_ID_PRESENT, 8);
    block.writeUInt32LE(base + n * payload, 12);
    block.writeUInt32LE(payload, 16);
    block.writeUInt32LE(n, 20);
    block.writeUInt32LE(count, 24);
    block.writeUInt32LE(familyId >>> 0, 28);
    block.set(image.subarray(n * payload, Math.min((n + 1) * payload, image.length)), 32);
    block.writeUInt32LE(UF2_MAGIC_END, UF2_BLOCK_BYTES - 4);
  }
  return out;
}

export interface Uf2Block {
  flags: number;
  address: number;
  payloadBytes: number;
  blockNumber: number;
  blockCount: number;
  /** The family id, or undefined if the flags say the field holds a file size instead. */
  familyId?: number;
  data: Buffer;
}

/** Parses every block of a UF2 file, checking magics and sizes; says which block is wrong. */
export function parseUf2Blocks(file: Uint8Array, what = 'the UF2 file'): Uf2Block[] {
  if (file.length === 0 || file.length % UF2_BLOCK_BYTES !== 0) {
    throw new UserError(`${what} is ${file.length} bytes, which is not a whole number of ${UF2_BLOCK_BYTES}-byte UF2 blocks.`);
  }
  const buffer = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const blocks: Uf2Block[] = [];
  for (let offset = 0; offset < buffer.length; offset += UF2_BLOCK_BYTES) {
    const n = offset / UF2_BLOCK_BYTES;
    const word = (at: number) => buffer.readUInt32LE(offset + at);
    if (word(0) !== UF2_MAGIC_START0 || word(4) !== UF2_MAGIC_START1 || word(UF2_BLOCK_BYTES - 4) !== UF2_MAGIC_END) {
      throw new UserError(
        `${what}: block ${n} (at byte ${offset}) does not have the UF2 magic numbers; the file is not UF2 or is damaged.`,
      );
    }
    const flags = word(8);
    const payloadBytes = word(16);
    if (payloadBytes > UF2_DATA_BYTES)
      throw new UserError(`${what}: block ${n} claims ${payloadBytes} payload bytes, more than the ${UF2_DATA_BYTES} a block holds.`);
    blocks.push({
      flags,
      address: word(12),
      payloadBytes,
      blockNumber: word(20),
      blockCount: word(24),
      familyId: flags & UF2_FLAG_FAMILY_ID_PRESENT ? word(28) : undefined,
      data: Buffer.from(buffer.subarray(offset + 32, offset + 32 + payloadBytes)),
    });
  }
  return blocks;
}

export interface Uf2Image {
  familyId?: number;
  /** The lowest address written. */
  baseAddress: number;
  /** Bytes from baseAddress to the end of the highest block; gaps between blocks are 0xff (erased flash). */
  image: Buffer;
  blockCount: number;
}

export interface Uf2DecodeOptions {
  /** Keep only blocks of this family (default: all must share one family). */
  familyId?: number;
}

/**
 * Decodes a UF2 file into one flat image. Checks the block numbering (0..count-1, each once,
 * one count for all) and that blocks do not overlap; blocks flagged "not main flash" are skipped.
 */
export function decodeUf2(file: Uint8Array, options: Uf2DecodeOptions = {}, what = 'the UF2 file'): Uf2Image {
  const all = parseUf2Blocks(file, what);
  const count = all[0].blockCount;
  const seen = new Set<number>();
  for (const b of all) {
    if (b.blockCount !== count)
      throw new UserError(`${what}: block ${b.blockNumber} says the file has ${b.blockCount} blocks, block 0 said ${count}.`);
    if (b.blockNumber >= count || seen.has(b.blockNumber))
      throw new UserError(`${what}: block number ${b.blockNumber} is out of range or repeated (the file has ${count} blocks).`);
    seen.add(b.blockNumber);
  }
  if (seen.size !== count) throw new UserError(`${what}: has ${seen.size} of its ${count} blocks; it is truncated.`);
  let blocks = all.filter((b) => !(b.flags & UF2_FLAG_NOT_MAIN_FLASH));
  if (options.familyId !== undefined) {
    blocks = blocks.filter((b) => b.familyId === options.familyId);
    if (blocks.length === 0) {
      const families = [...new Set(all.map((b) => b.familyId))].map((f) => (f === undefined ? 'none' : `0x${f.toString(16)}`));
      throw new UserError(`${what} has no blocks for family 0x${options.familyId.toString(16)} (it has: ${families.join(', ')}).`);
    }
  } else {
    const families = new Set(blocks.map((b) => b.familyId));
    if (families.size > 1) throw new UserError(`${what} mixes several families; say which one to decode.`);
  }
  if (blocks.length === 0) throw new UserError(`${what} has no blocks for main flash.`);
  blocks.sort((a, b) => a.address - b.address);
  const baseAddress = blocks[0].address;
  const last = blocks[blocks.length - 1];
  const image = Buffer.alloc(last.address + last.payloadBytes - baseAddress, 0xff);
  let end = baseAddress;
  for (const b of blocks) {
    if (b.address < end)
      throw new UserError(`${what}: block ${b.blockNumber} at 0x${b.address.toString(16)} overlaps the block before it.`);
    image.set(b.data, b.address - baseAddress);
    end = b.address + b.payloadBytes;
  }
  return { familyId: blocks[0].familyId, baseAddress, image, blockCount: count };
}
