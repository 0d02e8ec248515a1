/**
 * Bytes as a C array definition: the portable way to put a blob into a library, since every
 * ecosystem's build compiles C files but not all assemble `.incbin` with the right include path.
 */

/** The chunks of `const unsigned char NAME[] = { ... };` for `bytes`, twenty values a line. */
export function* cByteArray(declaration: string, bytes: Uint8Array): Generator<Buffer> {
  yield Buffer.from(`${declaration} = {\n`);
  const perLine = 20;
  const linesPerChunk = 4096;
  for (let start = 0; start < bytes.length; start += perLine * linesPerChunk) {
    const lines: string[] = [];
    const end = Math.min(bytes.length, start + perLine * linesPerChunk);
    for (let line = start; line < end; line += perLine) {
      lines.push(`    ${Array.from(bytes.subarray(line, Math.min(end, line + perLine))).join(',')},\n`);
    }
    yield Buffer.from(lines.join(''));
  }
  yield Buffer.from('};\n');
}

/** 32-bit FNV-1a of `bytes`, as the library's l2e_init computes it. */
export function fnv1a32(bytes: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const b of bytes) hash = Math.imul(hash ^ b, 0x01000193) >>> 0;
  return hash >>> 0;
}
