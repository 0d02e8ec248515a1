import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTINS_PRELUDE, KernelCompiler, KernelSyntaxError, floatLiteral, snakeCase } from '../../src/codegen/kernel-compiler.js';
import { KernelSet, productKernels, specializedName } from '../../src/codegen/kernel-set.js';
import { idiv } from '../../src/kernels/builtins.js';
import { matmulQ8Groups } from '../../src/kernels/matmul.js';
import { projectRoot } from '../../src/util/project-root.js';
import { tempDir } from '../helpers/fixtures.js';
import { normOf, mixed, scaleRows, sumSquares } from './fixtures/sample-kernels.js';
import { randomQ8Matmul } from '../helpers/random-model.js';
import { needs } from '../helpers/needs.js';

const root = projectRoot();
const fixture = join(root, 'test/codegen/fixtures/sample-kernels.ts');

/** Compiles a kernel file written in a test into a fresh compiler, returning the error message if it is rejected. */
function compileSnippet(source: string): KernelCompiler | string {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, 'snippet.ts');
    writeFileSync(file, `import { fround, idiv } from './builtins.js';\nimport type { f32, f64, i32 } from './types.js';\n${source}`);
    const kc = new KernelCompiler([file], dir);
    for (const name of kc.kernelNames()) kc.emitFunction(name);
    return kc;
  } catch (err) {
    return (err as Error).message;
  } finally {
    cleanup();
  }
}

function runC(source: string): string {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, 'main.c'), source);
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
    return execFileSync(join(dir, 'main'), { encoding: 'utf8' });
  } finally {
    cleanup();
  }
}

const C_HEAD = `#include <stdint.h>\n#include <stdbool.h>\n#include <stdio.h>\n#include <math.h>\n${BUILTINS_PRELUDE}\n`;

describe('codegen/kernel-compiler', () => {
  needs('cc');
  const kc = new KernelCompiler([fixture], root);

  it('names C functions and variables in snake_case', () => {
    expect(snakeCase('matmulQ8')).to.equal('matmul_q8');
    expect(snakeCase('keyCache')).to.equal('key_cache');
    expect(snakeCase('LN2_HI')).to.equal('LN2_HI');
  });

  it('writes float constants that read back as the same float32', () => {
    for (const v of [0.5, 1, 127, Math.fround(0.1), Math.fround(88.72283935546875), Math.fround(-103.97208404541016)]) {
      const text = floatLiteral(v);
      expect(text.endsWith('f')).to.equal(true);
      expect(Math.fround(Number(text.slice(0, -1)))).to.equal(v);
    }
    expect(floatLiteral(1)).to.equal('1.0f');
  });

  it('translates a float32 reduction to the C of llama2.c, with its comment and source line', () => {
    const c = kc.emitFunction('sumSquares');
    expect(c).to.contain('Sum of squares in float32.');
    expect(c).to.match(/Generated from test\/codegen\/fixtures\/sample-kernels\.ts:\d+\./);
    expect(c).to.contain('float sum_squares(const float* x, int n) {');
    expect(c).to.contain('    float s = 0.0f;');
    expect(c).to.contain('    for (int i = 0; i < n; i++) {');
    expect(c).to.contain('        s += x[i] * x[i];');
  });

  it('specializes shape parameters into literal constants', () => {
    const c = kc.emitFunction('scaleRows', { bind: { rows: 3, cols: 4 }, cName: 'scale_rows_3x4' });
    expect(c).to.contain('void scale_rows_3x4(float* m) {');
    expect(c).to.contain('for (int r = 0; r < 3; r++)');
    expect(c).to.contain('float* row = m + r * 4;');
    expect(c).to.contain('specialized for rows = 3, cols = 4');
  });

  it('marks arrays a kernel only reads as const, through views and callees', () => {
    expect(kc.emitPrototype('normOf')).to.equal('float norm_of(const float* x, int n);');
    expect(kc.emitPrototype('scaleRows')).to.equal('void scale_rows(float* m, int rows, int cols);');
  });

  it('produces C that computes exactly what the TypeScript computes', () => {
    const x = new Float32Array([0.1, -2.5, 3.75, 1e-3, 7]);
    const m = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const expectedM = Float32Array.from(m);
    scaleRows(expectedM, 3, 4);
    const program = `${C_HEAD}${kc.emitConstants(kc.kernelNames())}\n${kc
      .kernelNames()
      .map((n) => kc.emitFunction(n, { storage: 'static' }))
      .join('\n')}${kc.emitFunction('scaleRows', { bind: { rows: 3, cols: 4 }, cName: 'scale_rows_3x4', storage: 'static' })}
int main(void) {
    float x[] = {${Array.from(x, (v) => floatLiteral(v)).join(', ')}};
    float m[] = {${Array.from(m, (v) => floatLiteral(v)).join(', ')}};
    printf("%.17g\\n", (double)sum_squares(x, 5));
    printf("%.17g\\n", (double)norm_of(x, 5));
    printf("%.17g\\n", mixed(7, 2));
    printf("%.17g\\n", mixed(-7, 2));
    scale_rows_3x4(m);
    for (int i = 0; i < 12; i++) printf("%.17g\\n", (double)m[i]);
    return 0;
}
`;
    const lines = runC(program).trim().split('\n').map(Number);
    expect(lines[0]).to.equal(sumSquares(x, 5));
    expect(lines[1]).to.equal(normOf(x, 5));
    expect(lines[2]).to.equal(mixed(7, 2));
    expect(lines[3]).to.equal(mixed(-7, 2));
    expect(lines.slice(4)).to.deep.equal(Array.from(expectedM));
  });

  it("maps Int16Array and Uint8Array to int16_t and uint8_t pointers (the integer matmul's 16-bit scales, the KV cache's scale codes)", () => {
    const kc = productKernels();
    expect(kc.emitPrototype('matmulQ8Int')).to.match(/const int16_t\* ws/);
    expect(kc.emitPrototype('attentionInt')).to.match(
      /const uint8_t\* key_scale, .*const uint8_t\* value_scale, const int32_t\* scale_table/,
    );
  });

  it('marks innermost integer loops of at most 16 iterations fixed by the shapes for unrolling (KERNEL_UNROLL), and no others', () => {
    const kc = productKernels();
    const marked = (code: string) => [...code.matchAll(/KERNEL_UNROLL\n\s*(for \(.*\)) \{\n\s*(.*)\n/g)].map((m) => `${m[1]} ${m[2]}`);
    const integer = kc.emitFunction('attentionInt', { bind: { nHeads: 8, headSize: 8, kvDim: 32, kvMul: 2 }, cName: 'a' });
    expect(marked(integer)).to.deep.equal([
      'for (int i = 0; i < 8; i++) query[i] = qq[qh + i];',
      'for (int i = 0; i < 8; i++) dot += query[i] * key_cache[kt + i];',
      'for (int i = 0; i < 8; i++) sums[i] += att[t] * value_cache[vt + i];',
      'for (int i = 0; i < 8; i++) xb[qh + i] = mul_shr(sums[i], normalize, 31);',
    ]); // not the loop over the 8 heads (it holds loops), nor those over positions (not fixed)
    // float work: the score and value loops stay loops (soft float on the M0+); zeroing is marked
    const float = kc.emitFunction('attention', { bind: { nHeads: 8, headSize: 8, kvDim: 32, kvMul: 2, seqLen: 64 }, cName: 'f' });
    expect(marked(float)).to.deep.equal(['for (int i = 0; i < 8; i++) xb[qh + i] = 0.0f;']);
    // longer than 16, or not a constant: left to the compiler
    expect(kc.emitFunction('attentionInt', { bind: { nHeads: 6, headSize: 48, kvDim: 288, kvMul: 1 }, cName: 'b' })).to.not.contain(
      'KERNEL_UNROLL',
    );
    expect(kc.emitFunction('attentionInt', { cName: 'c' })).to.not.contain('KERNEL_UNROLL');
  });

  it("a specialized kernel's C name says what each number is, and a name two requests would share is refused", () => {
    expect(specializedName('matmulQ8Int', { d: 172, n: 64, groupSize: 64, scaleShift: 12 })).to.equal('matmul_q8_int_d172_n64_g64_shift12');
    expect(specializedName('rope', { dim: 64, kvDim: 32, headSize: 8 })).to.equal('rope_dim64_kv32_hs8');
    const kernels = new KernelSet();
    expect(kernels.use('matmulF32', { d: 64, n: 64 })).to.equal('matmul_f32_d64_n64');
    expect(kernels.use('matmulF32', { d: 64, n: 64 })).to.equal('matmul_f32_d64_n64'); // the same request again: the same function
    // a kernel whose snake-case name is another's specialized name would overwrite it
    const clash = new KernelSet(new KernelCompiler([], process.cwd()));
    (clash as unknown as { requests: Map<string, unknown> }).requests.set('rope_dim64', {
      kernel: 'ropeDim',
      bind: { x: 64 },
      cName: 'rope_dim64',
    });
    expect(() => clash.use('rope', { dim: 64 })).to.throw(/the C name rope_dim64 of rope \{"dim":64\} is taken by ropeDim/);
  });

  it('refuses two kernel files that declare one C name (a helper, a constant), naming both places, before any C is written', () => {
    const { dir, cleanup } = tempDir();
    try {
      const head = `import { fround } from './builtins.js';\nimport type { f32 } from './types.js';\n`;
      const files = (a: string, b: string) => {
        writeFileSync(join(dir, 'first.ts'), head + a);
        writeFileSync(join(dir, 'second.ts'), head + b);
        return [join(dir, 'first.ts'), join(dir, 'second.ts')];
      };
      // each file's kernel has its own helper `scale`: one C program can hold only one of them
      const helpers = files(
        'function scale(x: f32): f32 {\n  return fround(x * 2);\n}\nexport function twice(x: f32): f32 {\n  return scale(x);\n}\n',
        'function scale(x: f32): f32 {\n  return fround(x * 3);\n}\nexport function thrice(x: f32): f32 {\n  return scale(x);\n}\n',
      );
      expect(() => new KernelCompiler(helpers, dir)).to.throw(
        KernelSyntaxError,
        /^second\.ts:3: the C name scale is already declared at first\.ts:3 \(scale\): kernels and their helpers share one C namespace; rename one of them/,
      );
      // names that differ in TypeScript but not in C
      const snake = files(
        'export function sumSq(x: f32): f32 {\n  return x;\n}\n',
        'export function sum_sq(x: f32): f32 {\n  return x;\n}\n',
      );
      expect(() => new KernelCompiler(snake, dir)).to.throw(
        KernelSyntaxError,
        /^second\.ts:3: the C name sum_sq is already declared at first\.ts:3 \(sumSq\)/,
      );
      const constants = files('const LIMIT: f32 = 1;\n', 'const LIMIT: f32 = 2;\n');
      expect(() => new KernelCompiler(constants, dir)).to.throw(
        KernelSyntaxError,
        /^second\.ts:3: the C name LIMIT is already declared at first\.ts:3/,
      );
    } finally {
      cleanup();
    }
  });

  it("the product's matmulQ8Groups, specialized and vectorized (-O3 -march=native), equals its TypeScript bit for bit", () => {
    let seed = 11;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    // 2100 columns in groups of 32: three calls of dotQ8Groups per row, the last group short
    for (const [n, d, gs] of [
      [2100, 6, 32],
      [768, 9, 64],
    ]) {
      const { xq, xs, wq, ws } = randomQ8Matmul(n, d, gs, next);
      const expected = new Float32Array(d);
      matmulQ8Groups(expected, xq, xs, wq, ws, n, d, gs);
      const kernels = new KernelSet();
      const name = kernels.use('matmulQ8Groups', { n, groupSize: gs });
      const { dir, cleanup } = tempDir();
      try {
        writeFileSync(join(dir, 'kernels.h'), kernels.emit('/* test */'));
        writeFileSync(
          join(dir, 'main.c'),
          `#include <stdio.h>
#include <string.h>
#include "kernels.h"
static const int8_t xq[] = {${xq.join(', ')}};
static const float xs[] = {${Array.from(xs, (v) => floatLiteral(v)).join(', ')}};
static const int8_t wq[] = {${wq.join(', ')}};
static const float ws[] = {${Array.from(ws, (v) => floatLiteral(v)).join(', ')}};
int main(void) {
    float out[${d}];
    ${name}(out, xq, xs, wq, ws, ${d});
    for (int i = 0; i < ${d}; i++) { uint32_t bits; memcpy(&bits, &out[i], 4); printf("%u\\n", bits); }
    return 0;
}
`,
        );
        execFileSync('cc', [
          '-std=c11',
          '-O3',
          '-march=native',
          '-ffp-contract=off',
          '-fno-fast-math',
          '-Wall',
          '-Wextra',
          '-Werror',
          '-Wno-unused-function',
          '-o',
          join(dir, 'main'),
          join(dir, 'main.c'),
          '-lm',
        ]);
        const bits = execFileSync(join(dir, 'main'), { encoding: 'utf8' }).trim().split('\n').map(Number);
        expect(bits, `n ${n}, gs ${gs}`).to.deep.equal(Array.from(new Uint32Array(expected.buffer)));
      } finally {
        cleanup();
      }
    }
  });

  it('translates every product kernel into C that gcc accepts with -Wall -Wextra -Werror', () => {
    const dir = join(root, 'src/kernels');
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.ts') && f !== 'types.ts' && f !== 'builtins.ts')
      .map((f) => join(dir, f));
    const all = new KernelCompiler(files, root);
    const names = all.kernelNames();
    const program = `${C_HEAD}${all.emitConstants(names)}\n${names.map((n) => all.emitPrototype(n, { storage: 'static' })).join('\n')}\n${names
      .map((n) => all.emitFunction(n, { storage: 'static' }))
      .join('\n')}\nint main(void) { return 0; }\n`;
    expect(runC(program)).to.equal('');
  });

  it('sizes local arrays by a whole number or a shape parameter: a constant when specialized, else a variable-length array', () => {
    const source =
      'export function f(x: Int32Array, n: i32): i32 {\n  const acc: Int32Array = new Int32Array(n);\n  const four: Int32Array = new Int32Array(4);\n  for (let i: i32 = 0; i < n; i++) {\n    acc[i] += x[i] + four[i % 4];\n  }\n  return acc[n - 1];\n}';
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, 'snippet.ts');
      writeFileSync(file, `import type { i32 } from './types.js';\n${source}`);
      const kc = new KernelCompiler([file], dir);
      const specialized = kc.emitFunction('f', { bind: { n: 6 }, cName: 'f_6', storage: 'static' });
      expect(specialized).to.contain('int32_t acc[6] = {0};');
      expect(specialized).to.contain('int32_t four[4] = {0};');
      const generic = kc.emitFunction('f', { storage: 'static' });
      expect(generic).to.contain('int32_t acc[n]; memset(acc, 0, sizeof acc);');
      const out = runC(
        `${C_HEAD}${specialized}${generic}int main(void) { int32_t x[6] = {1, 2, 3, 4, 5, 6}; printf("%d %d\\n", f_6(x), f(x, 6)); return 0; }\n`,
      );
      expect(out).to.equal('6 6\n');
    } finally {
      cleanup();
    }
  });

  it("writes idiv() of 32-bit ints as the C builtin idiv (the RP2040's hardware divider) and of unsigned ones as C's unsigned /", () => {
    const kc = compileSnippet('export function f(a: i32, b: i32, c: u32, d: u32): i32 {\n  return idiv(a, b) + idiv(c, d);\n}');
    if (typeof kc === 'string') expect.fail(kc);
    const c = kc.emitFunction('f', { storage: 'static' });
    expect(c).to.contain('return idiv(a, b) + c / d;');
    // 3e9 / 7 as unsigned; through the int32 builtin it would be a negative quotient
    const out = runC(`${C_HEAD}${c}int main(void) { printf("%d\\n", f(-7, 2, 3000000000u, 7u)); return 0; }\n`);
    expect(Number(out)).to.equal(idiv(-7, 2) + idiv(3000000000, 7));
  });

  describe('rejects what it cannot translate, naming file, line and construct', () => {
    const cases: [string, string, RegExp][] = [
      [
        'unrounded float32 arithmetic',
        'export function f(x: Float32Array): f32 { return fround(x[0] + x[1] * x[2]); }',
        /snippet\.ts:3: .*wrap it in fround\(\)/,
      ],
      ['a class', 'export class Foo {}', /snippet\.ts:3: construct not supported in kernels: ClassDeclaration/],
      [
        'an untyped parameter',
        'export function f(x): void {}',
        /snippet\.ts:3: construct not supported in kernels: parameter type \(none\)/,
      ],
      [
        'Math functions',
        'export function f(x: f64): f64 { return Math.exp(x); }',
        /snippet\.ts:3: construct not supported in kernels: method call Math\.exp\(\)/,
      ],
      [
        'strings',
        "export function f(): i32 { const s = 'a'; return 0; }",
        /snippet\.ts:3: construct not supported in kernels: StringLiteral/,
      ],
      ['+= on a float', 'export function f(x: Float32Array): void { let s: f32 = 0; s += x[0]; }', /compound assignment \+= on a float/],
      ['a double stored in f32', 'export function f(x: f64): f32 { const y: f32 = x; return y; }', /a double stored in an f32 variable/],
      [
        'a float stored in an integer',
        'export function f(x: Float32Array): i32 { const y: i32 = x[0]; return y; }',
        /floating-point value stored in an integer/,
      ],
      ['module state', 'let counter: i32 = 0;', /module-level `let`/],
      [
        'a local array sized at run time',
        'export function f(x: Int32Array): i32 { const a: Int32Array = new Int32Array(x[0]); return a[0]; }',
        /snippet\.ts:3: construct not supported in kernels: local array size x\[0\]/,
      ],
      [
        'a local array sized by a local',
        'export function f(x: Int32Array): i32 { const m: i32 = x[0]; const a: Int32Array = new Int32Array(m); return a[0]; }',
        /local array size m: a whole number or an integer shape parameter/,
      ],
      ['unknown calls', 'export function f(x: f64): f64 { return g(x); }', /call to g\(\): only kernels and builtins/],
    ];
    for (const [what, source, message] of cases) {
      it(what, () => {
        const result = compileSnippet(source);
        expect(result).to.be.a('string');
        expect(result as string).to.match(message);
      });
    }
  });
});
