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

/** 32-bit FNV-1a, as the library's l2e_init computes it over the weights, fed a chunk at a time. */
export class Fnv1a32 {
  value = 0x811c9dc5;

  update(bytes: Uint8Array): this {
    let hash = this.value;
    for (let i = 0; i < bytes.length; i++) hash = Math.imul(hash ^ bytes[i], 0x01000193);
    this.value = hash >>> 0;
    return this;
  }
}

export function fnv1a32(bytes: Uint8Array): number {
  return new Fnv1a32().update(bytes).value;
}
