/**
 * Consistent Overhead Byte Stuffing (Cheshire and Baker, 1999): rewrites a frame so that it
 * contains no 0x00 byte, so that 0x00 can delimit frames on the wire.
 *
 * The data is seen as followed by one virtual 0x00. It is cut into blocks, each a run of at most
 * 254 non-zero bytes ended by a 0x00 (or by the 254-byte limit). A block is written as a code
 * byte, run length + 1, followed by the run; the 0x00 that ended the run is not written, it is
 * implied by any code below 0xFF. Code 0xFF is a full 254-byte run with no 0x00 after it; when
 * the data ends with such a run, nothing follows it. The decoder drops the final implied 0x00 (the
 * virtual one). Overhead: one byte per 254 bytes of data, rounded up, at least one.
 */

/** The largest run of non-zero bytes in one block. */
const MAX_RUN = 254;

/** The encoded length of `n` bytes at most (without the delimiter). */
export function cobsMaxEncodedLength(n: number): number {
  return n + Math.floor(n / MAX_RUN) + 1;
}

/** Encodes `data` (no delimiter is appended). */
export function cobsEncode(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsMaxEncodedLength(data.length));
  let o = 0;
  let start = 0;
  for (;;) {
    let run = 0;
    while (start + run < data.length && data[start + run] !== 0 && run < MAX_RUN) run++;
    out[o++] = run + 1;
    out.set(data.subarray(start, start + run), o);
    o += run;
    if (run === MAX_RUN) {
      start += run; // a full block: no zero consumed
      if (start === data.length) break; // and the data ends with it: nothing follows
      continue;
    }
    start += run + 1; // the run ended at a zero, real or the virtual one at the end
    if (start > data.length) break; // that was the virtual zero
  }
  return out.subarray(0, o);
}

/**
 * Decodes one encoded frame (without its delimiter). Undefined when it is not valid COBS: a
 * 0x00 byte inside, or a block that claims more bytes than there are.
 */
export function cobsDecode(encoded: Uint8Array): Uint8Array | undefined {
  const out = new Uint8Array(encoded.length);
  let o = 0;
  let i = 0;
  while (i < encoded.length) {
    const code = encoded[i++];
    if (code === 0) return undefined;
    const run = code - 1;
    if (i + run > encoded.length) return undefined;
    for (let k = 0; k < run; k++) {
      if (encoded[i + k] === 0) return undefined;
      out[o++] = encoded[i + k];
    }
    i += run;
    if (code !== 0xff && i < encoded.length) out[o++] = 0;
  }
  return out.subarray(0, o);
}
