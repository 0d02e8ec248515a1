/** CRC-16/CCITT-FALSE and COBS against published vectors, and COBS round trips. */
import { expect } from 'chai';
import fc from 'fast-check';
import { cobsDecode, cobsEncode, cobsMaxEncodedLength } from '../../src/serial/cobs.js';
import { crc16 } from '../../src/serial/crc.js';

const bytes = (...b: number[]) => Uint8Array.from(b);
const range = (from: number, to: number) => Uint8Array.from({ length: to - from + 1 }, (_, i) => from + i);
const concat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => Array.from(p)));

describe('serial: CRC-16/CCITT-FALSE', () => {
  it('gives the catalogue check value 0x29B1 for "123456789"', () => {
    expect(crc16(new TextEncoder().encode('123456789'))).to.equal(0x29b1);
  });

  it('matches other known values (from an independent implementation, Python binascii.crc_hqx with 0xFFFF)', () => {
    expect(crc16(new Uint8Array(0))).to.equal(0xffff);
    expect(crc16(new TextEncoder().encode('A'))).to.equal(0xb915);
    expect(crc16(range(0, 255))).to.equal(0x3fbd);
    expect(crc16(new Uint8Array(8))).to.equal(0x313e);
  });

  it('can be computed in pieces', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (data, cut) => {
        const at = data.length ? cut % data.length : 0;
        expect(crc16(data, crc16(data, undefined, 0, at), at)).to.equal(crc16(data));
      }),
    );
  });

  it('detects every single-bit error in a frame-sized message', () => {
    const data = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff);
    const good = crc16(data);
    for (let bit = 0; bit < data.length * 8; bit++) {
      const flipped = data.slice();
      flipped[bit >> 3] ^= 1 << (bit & 7);
      expect(crc16(flipped)).to.not.equal(good);
    }
  });
});

describe('serial: COBS', () => {
  // The examples of the COBS article on Wikipedia (Cheshire and Baker's encoding).
  const vectors: [Uint8Array, Uint8Array][] = [
    [bytes(), bytes(0x01)],
    [bytes(0x00), bytes(0x01, 0x01)],
    [bytes(0x00, 0x00), bytes(0x01, 0x01, 0x01)],
    [bytes(0x00, 0x11, 0x00), bytes(0x01, 0x02, 0x11, 0x01)],
    [bytes(0x11, 0x22, 0x00, 0x33), bytes(0x03, 0x11, 0x22, 0x02, 0x33)],
    [bytes(0x11, 0x22, 0x33, 0x44), bytes(0x05, 0x11, 0x22, 0x33, 0x44)],
    [bytes(0x11, 0x00, 0x00, 0x00), bytes(0x02, 0x11, 0x01, 0x01, 0x01)],
    [range(0x01, 0xfe), concat(bytes(0xff), range(0x01, 0xfe))],
    [range(0x00, 0xfe), concat(bytes(0x01, 0xff), range(0x01, 0xfe))],
    [range(0x01, 0xff), concat(bytes(0xff), range(0x01, 0xfe), bytes(0x02, 0xff))],
    [concat(range(0x02, 0xff), bytes(0x00)), concat(bytes(0xff), range(0x02, 0xff), bytes(0x01, 0x01))],
    [concat(range(0x03, 0xff), bytes(0x00, 0x01)), concat(bytes(0xfe), range(0x03, 0xff), bytes(0x02, 0x01))],
  ];

  vectors.forEach(([decoded, encoded], i) => {
    it(`encodes and decodes vector ${i + 1} (${decoded.length} bytes)`, () => {
      expect(Array.from(cobsEncode(decoded))).to.deep.equal(Array.from(encoded));
      expect(Array.from(cobsDecode(encoded)!)).to.deep.equal(Array.from(decoded));
    });
  });

  it('also decodes a final empty block after a full one', () => {
    expect(Array.from(cobsDecode(concat(bytes(0xff), range(0x01, 0xfe), bytes(0x01)))!)).to.deep.equal(Array.from(range(0x01, 0xfe)));
  });

  it('round-trips any bytes, without a zero on the wire and within the overhead bound', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 1200 }),
          fc.uint8Array({ min: 1, maxLength: 1200 }).map((a) => a.map((b) => b || 1)),
        ),
        (data) => {
          const encoded = cobsEncode(data);
          expect(encoded.includes(0)).to.equal(false);
          expect(encoded.length).to.be.at.most(cobsMaxEncodedLength(data.length));
          expect(Array.from(cobsDecode(encoded)!)).to.deep.equal(Array.from(data));
        },
      ),
    );
  });

  it('rejects encodings that run past their end or contain a zero', () => {
    expect(cobsDecode(bytes(0x05, 0x11, 0x22))).to.equal(undefined);
    expect(cobsDecode(bytes(0x03, 0x11, 0x00))).to.equal(undefined);
    expect(cobsDecode(bytes(0x00))).to.equal(undefined);
  });
});
