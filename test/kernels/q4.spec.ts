import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { F32Tensor } from '../../src/checkpoint/model.js';
import { BUILTINS_PRELUDE, KernelCompiler, floatLiteral } from '../../src/codegen/kernel-compiler.js';
import { embedQ4 } from '../../src/kernels/embed-q4.js';
import { embedQ8 } from '../../src/kernels/embed.js';
import { matmulQ8 } from '../../src/kernels/matmul.js';
import { matmulQ4, q4At } from '../../src/kernels/matmul-q4.js';
import { quantizeQ8 } from '../../src/kernels/quantize.js';
import { projectRoot } from '../../src/util/project-root.js';
import { quantizeTensorQ4, unpackQ4 } from '../../src/quant/q4.js';
import { tempDir } from '../helpers/fixtures.js';
import { requireNeeds } from '../helpers/needs.js';

/** Deterministic values in [-1, 1). */
function values(count: number, seed: number): Float32Array {
  let s = seed;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

function randomTensor(rows: number, cols: number, seed: number): F32Tensor {
  return { dtype: 'f32', rows, cols, data: values(rows * cols, seed) };
}

/** The same levels as int8, one per byte: a Q8_0 tensor that must give the very same results. */
function levelsAsInt8(q: Uint8Array, rows: number, cols: number): Int8Array {
  const out = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) out[r * cols + j] = unpackQ4(q, r * Math.ceil(cols / 2), j);
  return out;
}

describe('kernels/matmul-q4 and embed-q4', () => {
  it('q4At reads the low nibble for even indices and the high nibble for odd ones, minus 8', () => {
    const packed = new Uint8Array([0xf0, 0x78, 0x0a]);
    expect([0, 1, 2, 3, 4, 5].map((j) => q4At(packed, 0, j))).to.deep.equal([-8, 7, 0, -1, 2, -8]);
    expect(q4At(packed, 1, 0)).to.equal(0);
  });

  for (const [n, d, groupSize] of [
    [64, 7, 32],
    [43, 5, 8], // odd row length: padded rows, ragged last group of 3
    [172, 3, 32], // stories260K's w2 rows with a ragged last group of 12
    [10, 4, 3], // odd group size: groups start on odd columns
  ]) {
    it(`matmulQ4 equals matmulQ8 on the same levels and scales (n ${n}, d ${d}, group size ${groupSize})`, () => {
      const w = quantizeTensorQ4(randomTensor(d, n, n * 31 + d), groupSize);
      const x = values(n, 7 * n);
      const xq = new Int8Array(n);
      const xs = new Float32Array(Math.ceil(n / groupSize));
      quantizeQ8(xq, xs, x, n, groupSize);
      const out4 = new Float32Array(d);
      const out8 = new Float32Array(d);
      matmulQ4(out4, xq, xs, w.q, w.scales, n, d, groupSize);
      matmulQ8(out8, xq, xs, levelsAsInt8(w.q, d, n), w.scales, n, d, groupSize);
      expect(Array.from(out4)).to.deep.equal(Array.from(out8));
      // and the per-group sums, written out
      const groups = Math.ceil(n / groupSize);
      for (let i = 0; i < d; i++) {
        let val = 0;
        for (let g = 0; g < groups; g++) {
          let ival = 0;
          for (let j = g * groupSize; j < Math.min((g + 1) * groupSize, n); j++) ival += xq[j] * unpackQ4(w.q, i * Math.ceil(n / 2), j);
          val = Math.fround(val + Math.fround(Math.fround(ival * w.scales[i * groups + g]) * xs[g]));
        }
        expect(out4[i]).to.equal(val);
      }
    });
  }

  it('embedQ4 gives the dequantized row of the token, as embedQ8 on the same levels', () => {
    const dim = 21;
    const w = quantizeTensorQ4(randomTensor(6, dim, 3), 4);
    const x4 = new Float32Array(dim);
    const x8 = new Float32Array(dim);
    embedQ4(x4, w.q, w.scales, 5, dim, 4);
    embedQ8(x8, levelsAsInt8(w.q, 6, dim), w.scales, 5, dim, 4);
    expect(Array.from(x4)).to.deep.equal(Array.from(x8));
  });

  it('compiles to C that computes the same bits as the TypeScript', function () {
    this.timeout(60000);
    requireNeeds(this, 'cc');
    const root = projectRoot();
    const kc = new KernelCompiler(
      ['matmul-q4.ts', 'embed-q4.ts'].map((f) => join(root, 'src', 'kernels', f)),
      root,
    );
    const n = 43;
    const d = 5;
    const groupSize = 8;
    const w = quantizeTensorQ4(randomTensor(d, n, 11), groupSize);
    const x = values(n, 5);
    const xq = new Int8Array(n);
    const xs = new Float32Array(Math.ceil(n / groupSize));
    quantizeQ8(xq, xs, x, n, groupSize);
    const out = new Float32Array(d);
    matmulQ4(out, xq, xs, w.q, w.scales, n, d, groupSize);
    const row = new Float32Array(n);
    embedQ4(row, w.q, w.scales, 3, n, groupSize);

    const list = (a: ArrayLike<number>, f: (v: number) => string = String): string => Array.from(a, f).join(', ');
    const program = `#include <stdint.h>\n#include <stdbool.h>\n#include <stdio.h>\n#include <math.h>\n${BUILTINS_PRELUDE}\n${kc
      .kernelNames()
      .map((k) => kc.emitPrototype(k, { storage: 'static' }))
      .join('\n')}\n${kc
      .kernelNames()
      .map((k) => kc.emitFunction(k, { storage: 'static' }))
      .join('\n')}${kc.emitFunction('matmulQ4', { bind: { n, d, groupSize }, cName: 'matmul_q4_fixed', storage: 'static' })}
int main(void) {
    const int8_t xq[] = {${list(xq)}};
    const float xs[] = {${list(xs, floatLiteral)}};
    const uint8_t wq[] = {${list(w.q)}};
    const float ws[] = {${list(w.scales, floatLiteral)}};
    float out[${d}], fixed[${d}], row[${n}];
    matmul_q4(out, xq, xs, wq, ws, ${n}, ${d}, ${groupSize});
    matmul_q4_fixed(fixed, xq, xs, wq, ws);
    embed_q4(row, wq, ws, 3, ${n}, ${groupSize});
    for (int i = 0; i < ${d}; i++) printf("%.17g %.17g\\n", (double)out[i], (double)fixed[i]);
    for (int j = 0; j < ${n}; j++) printf("%.17g\\n", (double)row[j]);
    return 0;
}
`;
    const { dir, cleanup } = tempDir();
    try {
      writeFileSync(join(dir, 'main.c'), program);
      execFileSync('cc', [
        '-std=c99',
        '-O2',
        '-Wall',
        '-Wextra',
        '-Werror',
        '-Wno-unused-function',
        '-ffp-contract=off',
        '-o',
        join(dir, 'main'),
        join(dir, 'main.c'),
        '-lm',
      ]);
      const lines = execFileSync(join(dir, 'main'), { encoding: 'utf8' }).trim().split('\n');
      const matmul = lines.slice(0, d).map((l) => l.split(' ').map(Number));
      expect(matmul.map((p) => p[0])).to.deep.equal(Array.from(out));
      expect(matmul.map((p) => p[1])).to.deep.equal(Array.from(out));
      expect(lines.slice(d).map(Number)).to.deep.equal(Array.from(row));
    } finally {
      cleanup();
    }
  });
});
