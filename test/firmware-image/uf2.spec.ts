import { expect } from 'chai';
import fc from 'fast-check';
import {
  decodeUf2,
  encodeUf2,
  parseUf2Blocks,
  RP2040_FAMILY_ID,
  UF2_BLOCK_BYTES,
  UF2_FLAG_FAMILY_ID_PRESENT,
  UF2_MAGIC_END,
  UF2_MAGIC_START0,
  UF2_MAGIC_START1,
} from '../../src/firmware-image/uf2.js';

function bytes(n: number, seed = 1): Buffer {
  const out = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe('flash/uf2', () => {
  it('lays out each 512-byte block as the UF2 specification says', () => {
    const image = bytes(600);
    const file = encodeUf2(image);
    expect(file.length).to.equal(3 * UF2_BLOCK_BYTES);
    for (let n = 0; n < 3; n++) {
      const block = file.subarray(n * 512, (n + 1) * 512);
      expect(block.readUInt32LE(0)).to.equal(0x0a324655);
      expect(block.readUInt32LE(4)).to.equal(0x9e5d5157);
      expect(block.readUInt32LE(8)).to.equal(0x00002000); // family id present
      expect(block.readUInt32LE(12)).to.equal(0x10000000 + n * 256);
      expect(block.readUInt32LE(16)).to.equal(256);
      expect(block.readUInt32LE(20)).to.equal(n);
      expect(block.readUInt32LE(24)).to.equal(3);
      expect(block.readUInt32LE(28)).to.equal(0xe48bff56);
      expect(block.readUInt32LE(508)).to.equal(0x0ab16f30);
      // The payload, then zeros to the end of the 476-byte data area.
      const payload = image.subarray(n * 256, Math.min((n + 1) * 256, image.length));
      expect(block.subarray(32, 32 + payload.length).equals(payload)).to.equal(true);
      expect(block.subarray(32 + payload.length, 508).every((b) => b === 0)).to.equal(true);
    }
    expect([UF2_MAGIC_START0, UF2_MAGIC_START1, UF2_MAGIC_END, UF2_FLAG_FAMILY_ID_PRESENT, RP2040_FAMILY_ID]).to.deep.equal([
      0x0a324655, 0x9e5d5157, 0x0ab16f30, 0x2000, 0xe48bff56,
    ]);
  });

  it('pads an image that is not a multiple of 256 bytes with zeros in its last block', () => {
    const image = bytes(257);
    const blocks = parseUf2Blocks(encodeUf2(image));
    expect(blocks.map((b) => b.address)).to.deep.equal([0x10000000, 0x10000100]);
    expect(blocks[1].data[0]).to.equal(image[256]);
    expect(blocks[1].data.subarray(1).every((b) => b === 0)).to.equal(true);
    const decoded = decodeUf2(encodeUf2(image));
    expect(decoded.image.length).to.equal(512);
    expect(decoded.image.subarray(0, 257).equals(image)).to.equal(true);
  });

  it('round-trips any image, at any 256-aligned address', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 3000 }), fc.nat(1000), (image, page) => {
        const baseAddress = 0x10000000 + page * 256;
        const decoded = decodeUf2(encodeUf2(image, { baseAddress }), { familyId: RP2040_FAMILY_ID });
        expect(decoded.baseAddress).to.equal(baseAddress);
        expect(decoded.familyId).to.equal(RP2040_FAMILY_ID);
        expect(decoded.blockCount).to.equal(Math.ceil(image.length / 256));
        expect(decoded.image.subarray(0, image.length).equals(Buffer.from(image))).to.equal(true);
      }),
      { numRuns: 50 },
    );
  });

  it('decodes blocks in any order, and fills gaps between them with erased flash (0xff)', () => {
    const file = encodeUf2(bytes(1024));
    const reordered = Buffer.concat([3, 0, 2, 1].map((n) => file.subarray(n * 512, (n + 1) * 512)));
    expect(decodeUf2(reordered).image.equals(bytes(1024))).to.equal(true);
    // A file with blocks at 0x10000000 and 0x10000400, numbered as one file of two blocks.
    const first = encodeUf2(bytes(256, 7));
    const second = encodeUf2(bytes(256, 8), { baseAddress: 0x10000400 });
    first.writeUInt32LE(2, 24);
    second.writeUInt32LE(1, 20);
    second.writeUInt32LE(2, 24);
    const gapped = decodeUf2(Buffer.concat([first, second]));
    expect(gapped.image.length).to.equal(0x500);
    expect(gapped.image.subarray(256, 0x400).every((b) => b === 0xff)).to.equal(true);
    expect(gapped.image.subarray(0x400).equals(bytes(256, 8))).to.equal(true);
  });

  it('says what is wrong with a damaged file', () => {
    const file = encodeUf2(bytes(1000));
    expect(() => decodeUf2(file.subarray(0, 700))).to.throw(/not a whole number of 512-byte UF2 blocks/);
    expect(() => decodeUf2(file.subarray(0, 1024))).to.throw(/has 2 of its 4 blocks; it is truncated/);
    const badMagic = Buffer.from(file);
    badMagic.writeUInt32LE(0, 512 + 508);
    expect(() => decodeUf2(badMagic)).to.throw(/block 1 \(at byte 512\) does not have the UF2 magic numbers/);
    const repeated = Buffer.from(file);
    repeated.writeUInt32LE(0, 512 + 20);
    expect(() => decodeUf2(repeated)).to.throw(/block number 0 is out of range or repeated/);
    expect(() => decodeUf2(file, { familyId: 0x12345678 })).to.throw(/no blocks for family 0x12345678 \(it has: 0xe48bff56\)/);
  });

  it('refuses what the RP2040 boot ROM could not take', () => {
    expect(() => encodeUf2(Buffer.alloc(0))).to.throw(/empty image/);
    expect(() => encodeUf2(bytes(10), { baseAddress: 0x10000080 })).to.throw(/multiple of 256/);
  });
});
