/**
 * The Q4_0 row-pair dot product of every RP2040 Q4_0 matmul (firmware/rp2040/dot_q4.S) against its
 * TypeScript twin (dotQ4Pair), in rp2040js (test/firmware/dot-q4/main.c): the twin's sums for
 * every lane count 0..4 (0..64 columns), at offsets inside longer rows, on random values and the
 * edges, written into the program as its expected values. The twin itself is checked against
 * the nibbles read one at a time (q4PairAt). The firmware tests check whole generations against
 * the engine.
 */
import { expect } from 'chai';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { dotQ4Pair, dotQ4PairScaled } from '../../src/kernels/builtins.js';
import { q4PairAt, widenQ4Activation } from '../../src/kernels/matmul-q4-int.js';
import { projectRoot } from '../../src/util/project-root.js';
import { tempDir } from '../helpers/fixtures.js';
import { buildRp2040Program } from '../helpers/rp2040-program.js';
import { needs } from '../helpers/needs.js';

/** Columns of the pair of rows each case holds (two rows of 80 in row-pair words: 20 words). */
const COLUMNS = 80;
const WORDS = COLUMNS / 4;

interface Case {
  x: Int32Array;
  w: Int32Array;
  n: number;
  xOff: number;
  wOff: number;
}

/** Row-pair words of two rows of COLUMNS nibbles (0..15) given by nibble(row, column). */
function pairWords(nibble: (row: number, column: number) => number): Int32Array {
  const w = new Int32Array(WORDS);
  for (let j = 0; j < COLUMNS; j++) {
    w[j >> 2] |= (nibble(0, j) << (4 * (j & 3))) | (nibble(1, j) << (16 + 4 * (j & 3)));
  }
  return w;
}

/** The cases: random values and the edges, each at every lane count and two offsets. */
function cases(): Case[] {
  let s = 12345;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s >>> 8;
  };
  const patterns: { x: (k: number) => number; nibble: (row: number, column: number) => number }[] = [
    { x: () => (next() % 255) - 127, nibble: () => next() % 16 },
    { x: () => (next() % 255) - 127, nibble: () => next() % 16 },
    { x: () => 127, nibble: () => 15 }, // both rows' largest positive lane sums, 16 · 127 · 15
    { x: () => -127, nibble: () => 15 }, // and negative
    { x: () => -127, nibble: (r) => (r === 0 ? 15 : 0) }, // row 0 negative, row 1 zero: a borrow into the high half
    { x: () => 127, nibble: (r) => (r === 0 ? 0 : 15) },
    { x: () => -127, nibble: (r) => (r === 0 ? 0 : 15) },
    { x: (k) => (k & 1 ? 127 : -127), nibble: (r, j) => (j & 1 ? 15 : 0) ^ (r ? 15 : 0) }, // opposite signs
    { x: (k) => (k % 3 === 0 ? -127 : 127), nibble: (r, j) => (j % 5 === 0 ? 8 : 15 * ((j + r) & 1)) },
  ];
  const out: Case[] = [];
  for (const p of patterns) {
    const x = Int32Array.from({ length: COLUMNS }, (_, k) => p.x(k));
    const w = pairWords(p.nibble);
    for (let lanes = 0; lanes <= 4; lanes++) {
      out.push({ x, w, n: 16 * lanes, xOff: 0, wOff: 0 });
      if (lanes < 4) out.push({ x, w, n: 16 * lanes, xOff: 16, wOff: 4 }); // a later group of longer rows
    }
  }
  return out;
}

interface ScaledCase {
  xw: Int32Array;
  xm: Int32Array;
  w: Int32Array;
  ws: Int16Array;
  n: number;
  groupSize: number;
  shift: number;
  want: Int32Array;
}

/** Most groups of a scaled case (64 columns in groups of 16). */
const MAX_GROUPS = 4;

/**
 * dotQ4PairScaled's cases: groups of 16 and 32 over 32 and 64 columns, every shift 1..16, random
 * and extreme activations, weights and scales (dot products of ±32512, the most a group of 32
 * makes; xm up to ±2^31, ws up to ±32767); a draw whose
 * result the twin refuses (a product beyond 32 bits, which no model's scales make) is drawn again
 * with smaller activation scales.
 */
function scaledCases(): ScaledCase[] {
  let s = 777;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s >>> 8;
  };
  const out: ScaledCase[] = [];
  for (let shift = 1; shift <= 16; shift++) {
    for (const [n, groupSize] of [
      [32, 16],
      [64, 16],
      [32, 32],
      [64, 32],
    ]) {
      const groups = n / groupSize;
      // random, or one of the extremes: both rows' dot products (values nibble - 8) at -32512 (x = 127
      // against -8), at +32512, of opposite signs, or mixed
      const kind = (shift + n / 16 + groupSize / 16) % 5;
      const extreme = kind !== 0;
      const xq = Int8Array.from({ length: n }, (_, k) => [(next() % 255) - 127, 127, -127, 127, k & 1 ? 127 : -127][kind]);
      const xw = new Int32Array(COLUMNS);
      widenQ4Activation(xw, xq, n, groupSize);
      const w = pairWords((r, j) => [next() % 16, 0, 0, r ? 15 : 0, (j + r) % 3 === 0 ? 15 : 0][kind]);
      const ws = Int16Array.from({ length: 2 * MAX_GROUPS }, (_, i) => (extreme ? (i & 1 ? 32767 : -32767) : (next() % 65535) - 32767));
      for (let bits = 31; bits > 0; bits--) {
        const xm = Int32Array.from({ length: MAX_GROUPS }, (_, g) => {
          const v = extreme && g === 0 ? 2 ** bits - 1 : next() % 2 ** Math.min(bits, 24);
          return g & 1 ? -v : v;
        });
        const want = new Int32Array(2);
        try {
          dotQ4PairScaled(want, 0, xw, xm, w, 0, ws, 0, n, groupSize, shift);
        } catch (e) {
          if (e instanceof RangeError) continue;
          throw e;
        }
        out.push({ xw, xm, w, ws: ws.slice(0, 2 * groups), n, groupSize, shift, want });
        break;
      }
    }
  }
  return out;
}

/** cases.h: the inputs and the twin's sums, as C arrays. */
function casesHeader(all: Case[], want: Int32Array[], scaled: ScaledCase[]): string {
  const list = (values: ArrayLike<number | string>) => `{${Array.from(values).join(', ')}}`;
  return `/* written by test/firmware/dot-q4.spec.ts */
#define CASES ${all.length}
#define CASE_X ${COLUMNS}
#define CASE_WORDS ${WORDS}
static const int32_t case_x[CASES][CASE_X] = {${all.map((c) => list(c.x)).join(',\n')}};
static const int32_t case_w[CASES][CASE_WORDS] = {${all.map((c) => list(Array.from(c.w, (v) => `(int32_t)${v >>> 0}u`))).join(',\n')}};
static const int case_n[CASES] = ${list(all.map((c) => c.n))};
static const int case_x_off[CASES] = ${list(all.map((c) => c.xOff))};
static const int case_w_off[CASES] = ${list(all.map((c) => c.wOff))};
static const int32_t case_want[CASES][2] = {${want.map(list).join(', ')}};
#define SCALED ${scaled.length}
static const int32_t scaled_x[SCALED][CASE_X] = {${scaled.map((c) => list(c.xw)).join(',\n')}};
static const int32_t scaled_w[SCALED][CASE_WORDS] = {${scaled.map((c) => list(Array.from(c.w, (v) => `(int32_t)${v >>> 0}u`))).join(',\n')}};
static const int32_t scaled_xm[SCALED][${MAX_GROUPS}] = {${scaled.map((c) => list(Array.from(c.xm, (v) => `(int32_t)${v >>> 0}u`))).join(',\n')}};
static const int16_t scaled_ws[SCALED][${2 * MAX_GROUPS}] = {${scaled.map((c) => list(c.ws)).join(',\n')}};
static const int scaled_n[SCALED] = ${list(scaled.map((c) => c.n))};
static const int scaled_gs[SCALED] = ${list(scaled.map((c) => c.groupSize))};
static const int scaled_shift[SCALED] = ${list(scaled.map((c) => c.shift))};
static const int32_t scaled_want[SCALED][2] = {${scaled.map((c) => list(c.want)).join(', ')}};
`;
}

describe('rp2040: the Q4_0 row-pair dot product in ARMv6-M assembly equals its TypeScript twin', function () {
  needs('arm-none-eabi-gcc', 'make');
  this.timeout(120_000);
  const tmp = tempDir('llama2-embed-dot-q4-');
  after(() => tmp.cleanup());
  const all = cases();
  const want = all.map((c) => {
    const out = new Int32Array(2);
    dotQ4Pair(out, c.x, c.xOff, c.w, c.wOff, c.n);
    return out;
  });
  const scaled = scaledCases();

  it('the twin equals the sums of the nibbles read one at a time', () => {
    all.forEach((c, i) => {
      for (let row = 0; row < 2; row++) {
        let sum = 0;
        // the words from wOff hold columns 4 · wOff on: a pair of rows of COLUMNS values
        for (let k = 0; k < c.n; k++) sum += c.x[c.xOff + k] * (q4PairAt(c.w, row, 4 * c.wOff + k, COLUMNS) + 8);
        expect(want[i][row], `case ${i} row ${row}`).to.equal(sum);
      }
    });
    expect(want.some((w) => w[0] === 4 * 16 * 127 * 15 && w[1] === 4 * 16 * 127 * 15)).to.equal(true);
    expect(want.some((w) => w[0] === -4 * 16 * 127 * 15 && w[1] === 0)).to.equal(true);
  });

  it('for every lane count, offsets and the largest sums of either sign, at 26 cycles a word; scaled, for every shift 1..16', async () => {
    expect(scaled).to.have.length(64);
    writeFileSync(join(tmp.dir, 'cases.h'), casesHeader(all, want, scaled));
    copyFileSync(join(projectRoot(), 'templates', 'common', 'kernel-builtins.h'), join(tmp.dir, 'kernel-builtins.h'));
    const { uf2 } = buildRp2040Program(tmp.dir, join(projectRoot(), 'test', 'firmware', 'dot-q4', 'main.c'), [], ['dot_q4.S']);
    const result = await (await Rp2040Emulator.load(uf2)).run({ maxSeconds: 60 });
    const values = new Map(
      result.output
        .split('\n')
        .filter((l) => /^\w+=\d+$/.test(l))
        .map((l) => l.split('=') as [string, string]),
    );
    expect(result.output).to.not.match(/mismatch (case|scaled)=/);
    expect(Number(values.get('mismatches'))).to.equal(0);
    expect(Number(values.get('checked'))).to.equal(2 * all.length + 2 * scaled.length);
    // 64 products: two lanes of 4 words at 26 cycles, 10 a lane for the split and the loop, the call's entry and exit
    expect(Number(values.get('cycles_per_call_32'))).to.be.within(2 * (4 * 26 + 10), 2 * (4 * 26 + 10) + 40);
    // a row pair of stories15M: 9 groups of two lanes and both rows' scales, ~320 cycles a group (GCC's loop around dot_q4_pair: ~390)
    expect(Number(values.get('cycles_per_pair_288'))).to.be.within(9 * 2 * (4 * 26 + 10), 9 * 340);
  });
});
