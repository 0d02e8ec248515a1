/** The line our RP2040 firmware carries to say what it speaks (src/firmware-image/firmware-tag.ts), found in an image. */
import { expect } from 'chai';
import { findFirmwareTag } from '../../src/firmware-image/firmware-tag.js';

const image = (...parts: (string | number[])[]) =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p, 'latin1')] : p)));

describe('flash: the firmware tag', () => {
  it('reads the fields of the line, wherever it is in the image', () => {
    const tag = findFirmwareTag(image([0xff, 0x00, 0x12], 'llama2-embed firmware v1: target=rp2040 stdio=uart', [0], 'more'));
    expect(tag).to.deep.equal({ target: 'rp2040', stdio: 'uart', fields: { target: 'rp2040', stdio: 'uart' } });
  });

  it('an image without one (ours from before the tag, another program) has none', () => {
    expect(findFirmwareTag(image([1, 2, 3], 'hello', [0]))).to.equal(undefined);
  });

  it('a prefix without its end, or a stdio it does not know, is not taken', () => {
    expect(findFirmwareTag(image('llama2-embed firmware v1: target=rp2040 stdio=usb'))).to.equal(undefined);
    expect(findFirmwareTag(image('llama2-embed firmware v1: stdio=carrier-pigeon', [0]))?.stdio).to.equal(undefined);
  });
});
