/**
 * The line our RP2040 firmware carries in flash to say what it is (templates/rp2040/main.c
 * `firmware_tag`): `llama2-embed firmware v1: target=rp2040 stdio=usb`. Read from the image itself,
 * so that a firmware.uf2 or .elf copied away from its build-info.json is still run as it was built.
 */
import { readFileSync } from 'node:fs';
import { decodeUf2 } from './uf2.js';

const PREFIX = 'llama2-embed firmware v1: ';
/** An image's tag is short; a longer "line" is not one. */
const MAX_TAG_BYTES = 256;

export interface FirmwareTag {
  target?: string;
  stdio?: 'usb' | 'uart' | 'both';
  /** Every key=value of the line. */
  fields: Record<string, string>;
}

/** The tag of a flash image (the bytes as they go to flash), or undefined for an image without one (ours from before the tag, or another program). */
export function findFirmwareTag(image: Uint8Array): FirmwareTag | undefined {
  const at = Buffer.from(image.buffer, image.byteOffset, image.byteLength).indexOf(PREFIX, 0, 'latin1');
  if (at < 0) return undefined;
  const start = at + PREFIX.length;
  const end = image.indexOf(0, start);
  if (end < 0 || end - start > MAX_TAG_BYTES) return undefined;
  const fields: Record<string, string> = {};
  for (const pair of Buffer.from(image.subarray(start, end)).toString('latin1').split(' ')) {
    const eq = pair.indexOf('=');
    if (eq > 0) fields[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const stdio = ['usb', 'uart', 'both'].includes(fields.stdio) ? (fields.stdio as FirmwareTag['stdio']) : undefined;
  return { target: fields.target, stdio, fields };
}

/** The tag of a firmware file: a UF2 is decoded to its flash image; an ELF holds the line as it is in its .rodata. */
export function readFirmwareTag(file: string): FirmwareTag | undefined {
  const bytes = readFileSync(file);
  const image = file.toLowerCase().endsWith('.uf2') ? decodeUf2(bytes, {}, file).image : bytes;
  return findFirmwareTag(image);
}
