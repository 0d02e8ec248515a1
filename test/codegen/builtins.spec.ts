/**
 * Every builtin of the kernel subset has a portable TypeScript definition (src/kernels/builtins.ts)
 * and a C definition (the C library's, or BUILTINS_PRELUDE's): here they are run side by side on the
 * same inputs, and must agree bit for bit.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  dotQ4Pair,
  dotQ8Groups,
  dotQ8Rows4,
  fabsf,
  fixedToF32,
  floor,
  fround,
  greaterF32,
  idiv,
  imin,
  ldexp,
  mulShr,
  roundHalfAway,
  sqrtf,
  toI32,
} from '../../src/kernels/builtins.js';
import { BUILTINS_PRELUDE, doubleLiteral } from '../../src/codegen/kernel-compiler.js';
import { tempDir } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

/** Inputs that probe the edges: signs, halves, tiny and huge values, and a pseudo-random sweep. */
function inputs(): number[] {
  const xs = [
    0,
    -0,
    0.5,
    -0.5,
    1.5,
    -1.5,
    2.5,
    -2.5,
    1e-40,
    3.4e38,
    1e-7,
    123456.789,
    -7.25,
    0.49999999999999994 / 100,
    4503599627370497 / 100,
    -0.0049,
    Infinity,
    -Infinity,
    4503599627370497,
    -2.5000000000000004,
  ];
  let s = 12345;
  for (let i = 0; i < 400; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    xs.push(fround(((s / 2 ** 31) * 2 - 1) * 10 ** ((i % 12) - 6)));
  }
  return xs;
}

function bitsOf(x: number): string {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return b.readBigUInt64LE().toString(16);
}

/**
 * Compiles a C program (which pastes in the builtins) with the kernels' flags and `flags`, runs
 * it, and returns its output lines.
 */
function runC(source: string, flags: string[] = []): string[] {
  const tmp = tempDir();
  try {
    writeFileSync(join(tmp.dir, 'p.c'), source);
    execFileSync('cc', ['-std=c11', '-O2', '-ffp-contract=off', ...flags, '-o', join(tmp.dir, 'p'), join(tmp.dir, 'p.c'), '-lm']);
    return execFileSync(join(tmp.dir, 'p'), { encoding: 'utf8', maxBuffer: 1 << 26 })
      .trimEnd()
      .split('\n');
  } finally {
    tmp.cleanup();
  }
}

/** Exponents across ldexp_exact's range (2^k a normal double: -1022..1023), to its ends. */
const LDEXP_EDGES = [-1022, -1021, -1000, -500, -150, -1, 0, 1, 128, 500, 1000, 1022, 1023];
describe('codegen: builtins agree between TypeScript and C', function () {
  needs('cc');
  this.timeout(60_000);

  it('sqrtf, fabsf, floor, ldexp (ldexp_exact), roundHalfAway (round_half_away), idiv and imin', () => {
    const xs = inputs();
    const program = `#include <math.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
${BUILTINS_PRELUDE}
static void put(double v) { uint64_t b; memcpy(&b, &v, 8); printf("%llx\\n", (unsigned long long)b); }
static const double xs[] = {${xs.map(doubleLiteral).join(', ')}};
int main(void) {
    for (unsigned i = 0; i < sizeof xs / sizeof xs[0]; i++) {
      float f = (float)xs[i];
      put(sqrtf(fabsf(f)));
      put(fabsf(f));
      put(floor(xs[i] * 1000.0));
      put(ldexp_exact(xs[i], (int)(i % 40) - 20));
      put(round_half_away(xs[i] * 100.0));
      put(round_half_away(xs[i]));
      put(round(xs[i])); /* libm's round, what round_half_away stands for */
      int a = fabs(xs[i] * 1000.0) < 2e9 ? (int)(xs[i] * 1000.0) : 0, b = (int)(i % 7) + 1; /* i32 values stay in range */
      put(a / b);
      put(imin(a, b * 100));
    }
    /* ldexp_exact's edges: the ends of its range of k, subnormal and infinite results */
    static const int ks[] = {${LDEXP_EDGES.join(', ')}};
    for (unsigned i = 0; i < sizeof xs / sizeof xs[0]; i++)
      for (unsigned j = 0; j < sizeof ks / sizeof ks[0]; j++) put(ldexp_exact(xs[i], ks[j]));
    return 0;
}
`;
    const c = runC(program);
    const ts: string[] = [];
    xs.forEach((x, i) => {
      const f = fround(x);
      ts.push(
        bitsOf(sqrtf(fabsf(f))),
        bitsOf(fabsf(f)),
        bitsOf(floor(x * 1000)),
        bitsOf(ldexp(x, (i % 40) - 20)),
        bitsOf(roundHalfAway(x * 100)),
        bitsOf(roundHalfAway(x)),
        bitsOf(roundHalfAway(x)),
      );
      const a = Math.abs(x * 1000) < 2e9 ? Math.trunc(x * 1000) + 0 : 0; // C (int): no negative zero
      const b = (i % 7) + 1;
      ts.push(bitsOf(idiv(a, b)), bitsOf(imin(a, b * 100)));
    });
    for (const x of xs) for (const k of LDEXP_EDGES) ts.push(bitsOf(ldexp(x, k)));
    expect(c.length).to.equal(ts.length);
    for (let i = 0; i < ts.length; i++) expect(c[i], `value ${i} (input ${xs[Math.floor(i / 9)]})`).to.equal(ts[i]);
  });

  it('dotQ8Groups: the vectorized C (AVX-512 VNNI, plain AVX2, no intrinsics) equals the TypeScript loop', () => {
    // (columns, group size): whole groups, a short last group, groups the vector path does not take
    const cases = [
      [1, 32],
      [31, 32],
      [32, 32],
      [128, 32],
      [140, 32],
      [288, 32],
      [768, 64],
      [2048, 64],
      [1000, 64],
      [256, 128],
      [300, 128],
      [172, 4],
      [96, 48],
    ];
    const size = 2048 + 16;
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const x = Int8Array.from({ length: size }, (_, i) => (i % 61 === 0 ? 127 : i % 67 === 0 ? -127 : (next() % 255) - 127));
    const w = Int8Array.from({ length: size }, (_, i) => (i % 37 === 0 ? -127 : i % 41 === 0 ? 127 : (next() % 255) - 127));
    const program = `#include <stdint.h>
#include <stdio.h>
${BUILTINS_PRELUDE}
static const int8_t x[] = {${Array.from(x).join(', ')}};
static const int8_t w[] = {${Array.from(w).join(', ')}};
static const int cases[][2] = {${cases.map(([n, gs]) => `{${n}, ${gs}}`).join(', ')}};
int main(void) {
    int32_t out[600];
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
      int n = cases[i][0], gs = cases[i][1];
      dot_q8_groups(out, x, 3, w, 11, n, gs);
      for (int g = 0; g < (n + gs - 1) / gs; g++) printf("%d ", out[g]);
      printf("\\n");
    }
    return 0;
}
`;
    const expected = cases.map(([n, gs]) => {
      const out = new Int32Array(600);
      dotQ8Groups(out, x, 3, w, 11, n, gs);
      return Array.from(out.subarray(0, Math.ceil(n / gs))).join(' ');
    });
    for (const flags of [['-march=native'], ['-mavx2'], ['-DLLAMA2_EMBED_NO_INTRINSICS']]) {
      const c = runC(program, flags).map((l) => l.trim());
      cases.forEach(([n, gs], i) => expect(c[i], `${flags.join(' ')}: n = ${n}, group size ${gs}`).to.equal(expected[i]));
    }
  });

  it('dotQ8Rows4: the vectorized C (AVX2 / VNNI where the host has it) equals the TypeScript loop', () => {
    const lengths = [1, 7, 31, 32, 33, 44, 64, 96, 172, 288];
    const rowStride = 300;
    let seed = 99;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const x = Int8Array.from({ length: rowStride }, (_, i) => (i % 50 === 0 ? 127 : i % 51 === 0 ? -127 : (next() % 255) - 127));
    const w = Int8Array.from({ length: rowStride * 4 + 8 }, (_, i) => (i % 37 === 0 ? -127 : (next() % 255) - 127));
    const program = `#include <stdint.h>
#include <stdio.h>
${BUILTINS_PRELUDE}
static const int8_t x[] = {${Array.from(x).join(', ')}};
static const int8_t w[] = {${Array.from(w).join(', ')}};
static const int lengths[] = {${lengths.join(', ')}};
int main(void) {
    int32_t out[4];
    for (unsigned i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
      dot_q8_rows4(out, x, 3, w, 5, ${rowStride}, lengths[i] < ${rowStride - 5} ? lengths[i] : ${rowStride - 5});
      printf("%d %d %d %d\\n", out[0], out[1], out[2], out[3]);
    }
    return 0;
}
`;
    const c = runC(program, ['-march=native']);
    const out = new Int32Array(4);
    lengths.forEach((n, i) => {
      dotQ8Rows4(out, x, 3, w, 5, rowStride, Math.min(n, rowStride - 5));
      expect(c[i], `n = ${n}`).to.equal(Array.from(out).join(' '));
    });
  });

  it('dotQ4Pair: the portable C (two rows per product, lanes of 16 columns) equals the TypeScript twin', () => {
    const lengths = [0, 16, 32, 48, 64, 288];
    let seed = 5;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    // activations in [-127, 127] with runs of the extremes; words of random nibbles, some all 15 or all 0
    const x = Int32Array.from({ length: 320 }, (_, i) => (i % 40 < 16 ? (i % 80 < 40 ? 127 : -127) : (next() % 255) - 127));
    const w = Int32Array.from({ length: 80 }, (_, i) =>
      i % 9 === 0 ? -1 : i % 9 === 1 ? 0 : i % 9 === 2 ? 0x88888888 | 0 : next() | (next() << 16),
    );
    const program = `#include <stdint.h>
#include <stdio.h>
${BUILTINS_PRELUDE}
static const int32_t x[] = {${Array.from(x).join(', ')}};
static const int32_t w[] = {${Array.from(w, (v) => `(int32_t)${v >>> 0}u`).join(', ')}};
static const int lengths[] = {${lengths.join(', ')}};
int main(void) {
    int32_t out[2];
    for (unsigned i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
      dot_q4_pair(out, x, 16, w, 4, lengths[i]);
      printf("%d %d\\n", out[0], out[1]);
    }
    return 0;
}
`;
    const c = runC(program, []);
    const out = new Int32Array(2);
    lengths.forEach((n, i) => {
      dotQ4Pair(out, x, 16, w, 4, n);
      expect(c[i], `n = ${n}`).to.equal(Array.from(out).join(' '));
    });
  });

  it('mulShr (mul_shr) and toI32: the 64-bit fixed-point product rounds alike, for every sign and shift', () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const cases: [number, number, number][] = [
      [0, 0, 16],
      [1, 1, 1],
      [-1, 1, 1],
      [3, 1, 1],
      [-3, 1, 1],
      [5, 1, 2],
      [-5, 1, 2],
      [6, 1, 2],
      [-6, 1, 2],
      [2147483647, 2147483647, 62],
      [-2147483648, 2147483647, 62],
      [-2147483648, -2147483648, 62],
      [1073741824, 1073741824, 30],
      [123456789, 987654, 30],
      [-123456789, 987654, 30],
      [65536, -65536, 16],
    ];
    for (let i = 0; i < 3000; i++) {
      const a = next() - 2 ** 30 - (i % 2 ? 2 ** 30 : 0);
      const b = (next() >> (i % 31)) * (i % 3 ? 1 : -1);
      const s = 1 + (i % 62);
      cases.push([a, b, s]);
    }
    const fits = cases.filter(([a, b, s]) => {
      try {
        mulShr(a, b, s);
        return true;
      } catch {
        return false;
      }
    });
    expect(fits.length).to.be.greaterThan(1000);
    const program = `#include <stdint.h>
#include <stdio.h>
#include <math.h>
${BUILTINS_PRELUDE}
static const int32_t cases[][3] = {${fits.map(([a, b, s]) => `{${a === -2147483648 ? '(-2147483647 - 1)' : a}, ${b === -2147483648 ? '(-2147483647 - 1)' : b}, ${s}}`).join(', ')}};
static const double rounded[] = {0.0, -0.0, 2147483647.0, -2147483648.0, 1e9, -1e9, 12345.0};
int main(void) {
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) printf("%d\\n", mul_shr(cases[i][0], cases[i][1], cases[i][2]));
    for (unsigned i = 0; i < sizeof rounded / sizeof rounded[0]; i++) printf("%d\\n", (int32_t)(rounded[i]));
    return 0;
}
`;
    // the 64-bit product, and the Cortex-M0+'s (four 16-bit products), compiled here
    const c = runC(program);
    expect(runC(program, ['-DLLAMA2_EMBED_MUL_SHR_HALVES'])).to.deep.equal(c);
    const ts = [
      ...fits.map(([a, b, s]) => String(mulShr(a, b, s))),
      ...[0, -0, 2147483647, -2147483648, 1e9, -1e9, 12345].map((v) => String(toI32(v))),
    ];
    expect(c).to.deep.equal(ts);
    expect(() => toI32(0.5)).to.throw(RangeError);
    expect(() => toI32(2147483648)).to.throw(RangeError);
    expect(() => mulShr(2147483647, 2147483647, 16)).to.throw(RangeError, /does not fit 32 bits/);
  });

  it('fixedToF32 (fixed_to_f32): the float conversion and the Cortex-M0+ bit construction round alike', () => {
    // every value near the powers of two, where the kept bits change and rounding carries, halves
    // and ties to even, the ends of the range, and random values of every size
    const values = new Set<number>([
      0, 1, -1, 2147483647, -2147483648, 16777215, 16777216, 16777217, 16777218, 16777219, 33554431, 33554433, 33554435,
    ]);
    for (let bit = 0; bit < 31; bit++) for (let d = -3; d <= 3; d++) for (const sign of [1, -1]) values.add(sign * (2 ** bit + d));
    let seed = 11;
    for (let i = 0; i < 20000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      values.add(((seed >> (i % 31)) | 0) * (i % 2 ? -1 : 1));
    }
    const xs = [...values].filter((v) => v >= -2147483648 && v <= 2147483647);
    const program = `#include <stdint.h>
#include <stdio.h>
#include <string.h>
${BUILTINS_PRELUDE}
static const int32_t xs[] = {${xs.map((v) => (v === -2147483648 ? '(-2147483647 - 1)' : String(v))).join(', ')}};
int main(void) {
    for (unsigned i = 0; i < sizeof xs / sizeof xs[0]; i++) {
      float f = fixed_to_f32(xs[i]);
      uint32_t bits;
      memcpy(&bits, &f, 4);
      printf("%08x\\n", bits);
    }
    return 0;
}
`;
    const ts = xs.map((v) => {
      const b = Buffer.alloc(4);
      b.writeFloatLE(fixedToF32(v));
      return b.readUInt32LE().toString(16).padStart(8, '0');
    });
    expect(runC(program)).to.deep.equal(ts);
    expect(runC(program, ['-DLLAMA2_EMBED_FIXED_TO_F32_BITS'])).to.deep.equal(ts);
  });
  it('greaterF32 (greater_f32): the comparison from the bits (Cortex-M0+) agrees with float comparison, NaN, zeros and infinities included', () => {
    const special = [
      0,
      -0,
      1,
      -1,
      Infinity,
      -Infinity,
      NaN,
      1.4e-45,
      -1.4e-45,
      1.17549435e-38,
      -1.17549435e-38,
      3.4028235e38,
      -3.4028235e38,
      0.1,
      -0.1,
      16777216,
      16777217,
    ];
    const values = [...special];
    let seed = 5;
    for (let i = 0; i < 300; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const b = Buffer.alloc(4);
      b.writeUInt32LE((seed * 2 + (i & 1)) >>> 0);
      values.push(b.readFloatLE());
    }
    const fs = values.map((v) => Math.fround(v));
    const hex = (v: number) => {
      const b = Buffer.alloc(4);
      b.writeFloatLE(v);
      return `0x${b.readUInt32LE().toString(16)}u`;
    };
    const program = `#include <stdint.h>
#include <stdio.h>
#include <string.h>
${BUILTINS_PRELUDE}
static const uint32_t bits[] = {${fs.map(hex).join(', ')}};
int main(void) {
    unsigned n = sizeof bits / sizeof bits[0];
    for (unsigned i = 0; i < n; i++) {
      float a;
      memcpy(&a, &bits[i], 4);
      for (unsigned j = 0; j < n; j++) {
        float b;
        memcpy(&b, &bits[j], 4);
        putchar(greater_f32(a, b) ? '1' : '0');
      }
      putchar('\\n');
    }
    return 0;
}
`;
    const ts = fs.map((a) => fs.map((b) => (greaterF32(a, b) ? '1' : '0')).join(''));
    expect(runC(program)).to.deep.equal(ts);
    expect(runC(program, ['-DLLAMA2_EMBED_GREATER_F32_BITS'])).to.deep.equal(ts);
  });
});
