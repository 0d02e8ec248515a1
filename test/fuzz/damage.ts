/**
 * Ways to damage a checkpoint or a tokenizer file, as bytes in, bytes out. Each damage has a
 * stable name (part of the case names) and says whether the result is certainly bad (`fail`: a
 * command that accepts it gives a silent wrong result) or may still be a usable file (`either`).
 */
import type { Expectation } from './case.js';

/** A change to a file's bytes. */
export interface Damage {
  name: string;
  expect: Expectation;
  apply(bytes: Uint8Array): Uint8Array;
}

/** The seven header fields, in the order llama2.c stores them (after the magic and version in v1/v2/own). */
export const HEADER_FIELDS = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'] as const;
export type HeaderField = (typeof HEADER_FIELDS)[number];

const INT32_MAX = 2 ** 31 - 1;

/** Values tried for each field of stories260K (dim 64, hidden 172, 5 layers, 8 heads, 4 KV heads, vocab 512, seq_len 512). */
export const FIELD_VALUES: Record<HeaderField, { value: number; why: string }[]> = {
  dim: [
    { value: 0, why: '0' },
    { value: -1, why: 'negative' },
    { value: INT32_MAX, why: 'huge' },
    { value: 65, why: 'not-divisible-by-n_heads' },
    { value: 128, why: 'too-big-for-file' },
  ],
  hidden_dim: [
    { value: 0, why: '0' },
    { value: -1, why: 'negative' },
    { value: INT32_MAX, why: 'huge' },
  ],
  n_layers: [
    { value: 0, why: '0' },
    { value: -1, why: 'negative' },
    { value: 6, why: 'one-more' },
    { value: INT32_MAX, why: 'huge' },
  ],
  n_heads: [
    { value: 0, why: '0' },
    { value: -1, why: 'negative' },
    { value: 3, why: 'not-dividing-dim' },
    { value: 7, why: 'not-dividing-dim-7' },
    { value: 128, why: 'more-than-dim' },
  ],
  n_kv_heads: [
    { value: 0, why: '0' },
    { value: -1, why: 'negative' },
    { value: 3, why: 'not-dividing-n_heads' },
    { value: 8, why: 'changed' },
    { value: 16, why: 'more-than-n_heads' },
  ],
  vocab_size: [
    { value: 0, why: '0' },
    { value: INT32_MAX, why: 'huge' },
    { value: -(2 ** 31), why: 'most-negative' },
    { value: 513, why: 'one-more' },
    { value: -512, why: 'negative-unshared' },
  ],
  seq_len: [
    { value: 0, why: '0' },
    { value: -1, why: 'negative' },
    { value: INT32_MAX, why: 'huge' },
    { value: 1_000_000, why: 'million' },
  ],
};

function copy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** `bytes` with an int32 (little-endian) replaced. */
export function withInt32(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const out = copy(bytes);
  view(out).setInt32(offset, value, true);
  return out;
}

/** `bytes` with a uint32 (little-endian) replaced. */
export function withUint32(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const out = copy(bytes);
  view(out).setUint32(offset, value >>> 0, true);
  return out;
}

/** `bytes` with a float32 replaced. */
export function withFloat32(bytes: Uint8Array, offset: number, value: number): Uint8Array {
  const out = copy(bytes);
  view(out).setFloat32(offset, value, true);
  return out;
}

/** The first `length` bytes (a negative length counts from the end). */
export function truncated(bytes: Uint8Array, length: number): Uint8Array {
  return copy(bytes.subarray(0, length < 0 ? bytes.length + length : length));
}

/** Byte offset of a header field: v0 starts with the fields; v1, v2 and own after an 8-byte magic and version. */
export function fieldOffset(format: 'v0' | 'versioned', field: HeaderField): number {
  return (format === 'v0' ? 0 : 8) + HEADER_FIELDS.indexOf(field) * 4;
}

/** A header field set to each of its tried values. */
export function headerDamages(format: 'v0' | 'versioned', values = FIELD_VALUES): Damage[] {
  return HEADER_FIELDS.flatMap((field) =>
    values[field].map(({ value, why }) => ({
      name: `${field}-${why}`,
      // v1/v2 store no RoPE tables, so a larger seq_len still matches the file's size: it is only
      // certainly wrong when it is absurd
      expect: (format === 'versioned' && field === 'seq_len' && why === 'million' ? 'either' : 'fail') as Expectation,
      apply: (b: Uint8Array) => withInt32(b, fieldOffset(format, field), value),
    })),
  );
}

/** The file cut short at several places. */
export function truncations(): Damage[] {
  const at = (name: string, length: (n: number) => number): Damage => ({
    name: `truncated-${name}`,
    expect: 'fail',
    apply: (b) => truncated(b, length(b.length)),
  });
  return [
    at('to-0', () => 0),
    at('to-3', () => 3),
    at('to-27', () => 27),
    at('to-100', () => 100),
    at('to-255', () => 255),
    at('to-half', (n) => Math.floor(n / 2)),
    at('by-1', (n) => n - 1),
  ];
}

/** Bytes appended after the last tensor. */
export function trailingBytes(): Damage[] {
  const plus = (n: number): Damage => ({
    name: `trailing-${n}-bytes`,
    expect: 'either',
    apply: (b) => {
      const out = new Uint8Array(b.length + n);
      out.set(b);
      return out;
    },
  });
  return [plus(1), plus(4096)];
}

/**
 * A fp32 weight replaced, in the first tensor (v0: the token embedding; v1: a norm) and in the middle of the
 * file (a layer's matrix). NaN and infinity make every output garbage; a huge finite weight is
 * only suspicious.
 */
export function weightDamages(headerLength: number): Damage[] {
  const put = (name: string, value: number, expect: Expectation, where: (n: number) => number): Damage => ({
    name,
    expect,
    apply: (b) => withFloat32(b, where(b.length), value),
  });
  const first = () => headerLength + 4 * 100;
  const middle = (n: number) => headerLength + 4 * Math.floor((n - headerLength) / 8);
  return [
    put('nan-in-first-tensor', NaN, 'fail', first),
    put('nan-in-layer', NaN, 'fail', middle),
    put('inf-in-layer', Infinity, 'fail', middle),
    put('huge-weight-1e38', 1e38, 'either', middle),
  ];
}

/** Damage to the magic and version of a v1 file. */
export function versionDamages(): Damage[] {
  return [
    { name: 'version-3', expect: 'fail', apply: (b) => withInt32(b, 4, 3) },
    { name: 'version-0', expect: 'fail', apply: (b) => withInt32(b, 4, 0) },
    { name: 'version-negative', expect: 'fail', apply: (b) => withInt32(b, 4, -1) },
    { name: 'magic-ak43', expect: 'fail', apply: (b) => withUint32(b, 0, 0x616b3433) },
  ];
}

/** Damage to a v2 file's group size (int32 at byte 37, unaligned) and shared-classifier flag (byte 36). */
export function v2Damages(): Damage[] {
  const gs = (name: string, value: number): Damage => ({
    name: `group_size-${name}`,
    expect: 'fail',
    apply: (b) => withInt32(b, 37, value),
  });
  return [
    gs('0', 0),
    gs('negative', -1),
    gs('3', 3),
    gs('huge', INT32_MAX),
    gs('8', 8),
    { name: 'shared-flag-2', expect: 'either', apply: (b) => ((b = copy(b)), (b[36] = 2), b) },
    { name: 'shared-flag-0', expect: 'fail', apply: (b) => ((b = copy(b)), (b[36] = 0), b) },
  ];
}

/**
 * Damage to our own format's header and tensor table (layout in src/checkpoint/own-format.ts); for
 * stories260K in Q4_0, entry 12 is layers.0.wq (the norms and the embedding come first).
 */
export function ownDamages(): Damage[] {
  const entry = (index: number, field: number) => 64 + 64 * index + field;
  const u32 = (name: string, offset: number, value: number | ((old: number) => number)): Damage => ({
    name,
    expect: 'fail',
    apply: (b) => withUint32(b, offset, typeof value === 'number' ? value : value(view(b).getUint32(offset, true))),
  });
  return [
    u32('magic', 0, 0x5145324d),
    u32('version-2', 4, 2),
    u32('tensor_count-0', 40, 0),
    u32('tensor_count-huge', 40, 0xffffffff),
    u32('tensor_count-one-less', 40, (n) => n - 1),
    u32('alignment-0', 44, 0),
    u32('alignment-3', 44, 3),
    { name: 'entry0-dtype-9', expect: 'fail', apply: (b) => ((b = copy(b)), (b[entry(0, 32)] = 9), b) },
    { name: 'wq0-dtype-f32', expect: 'fail', apply: (b) => ((b = copy(b)), (b[entry(12, 32)] ^= 2), b) },
    { name: 'entry0-name', expect: 'fail', apply: (b) => ((b = copy(b)), (b[entry(0, 0)] = 0x21), b) },
    u32('wq0-rows-plus-1', entry(12, 36), (n) => n + 1),
    u32('wq0-group_size-0', entry(12, 44), 0),
    u32('wq0-offset-past-end', entry(12, 48), 0xffffffc0),
    u32('wq0-length-plus-64', entry(12, 52), (n) => n + 64),
    u32('wq0-scales-past-end', entry(12, 56), 0xfffffff0),
  ];
}

/** llama2.c's tokenizer.bin as pieces and scores, to edit and write back (parse/serialize live in src/tokenizer). */
export interface VocabEdit {
  maxTokenLength: number;
  pieces: Uint8Array[];
  scores: number[];
}

/** The tokens of a good tokenizer file (no checks: the file is ours). */
export function splitVocab(bytes: Uint8Array, count: number): VocabEdit {
  const v = view(bytes);
  const pieces: Uint8Array[] = [];
  const scores: number[] = [];
  let offset = 4;
  for (let i = 0; i < count; i++) {
    scores.push(v.getFloat32(offset, true));
    const length = v.getInt32(offset + 4, true);
    pieces.push(bytes.slice(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return { maxTokenLength: v.getInt32(0, true), pieces, scores };
}

/** The byte offset of token `id`'s record (score, length, bytes). */
export function tokenOffset(bytes: Uint8Array, id: number): number {
  const v = view(bytes);
  let offset = 4;
  for (let i = 0; i < id; i++) offset += 8 + v.getInt32(offset + 4, true);
  return offset;
}
