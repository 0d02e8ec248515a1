/**
 * Little-endian typed arrays over file bytes. llama2.c files are little-endian; on a little-endian
 * host (every machine Node runs on in practice) a 4-byte-aligned float array is used in place, and
 * anything else is copied value by value.
 */

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** `count` float32 values at byte `offset` of `bytes`: a view when aligned, else a copy. */
export function float32At(bytes: Uint8Array, offset: number, count: number): Float32Array {
  const start = bytes.byteOffset + offset;
  if (HOST_IS_LITTLE_ENDIAN && start % 4 === 0) return new Float32Array(bytes.buffer, start, count);
  const view = new DataView(bytes.buffer, start, count * 4);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** `count` int8 values at byte `offset` of `bytes` (always a view). */
export function int8At(bytes: Uint8Array, offset: number, count: number): Int8Array {
  return new Int8Array(bytes.buffer, bytes.byteOffset + offset, count);
}

/** The little-endian bytes of a float32 array: a view on little-endian hosts, else a copy. */
export function float32Bytes(values: Float32Array): Uint8Array {
  if (HOST_IS_LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return out;
}

/** The bytes of an int8 array (a view). */
export function int8Bytes(values: Int8Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}
