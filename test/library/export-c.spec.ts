/**
 * `export --format c` end to end: the library built with its Makefile, its example run, a program
 * of the tests written against llama2_embed.h alone linked to it; the tokens and logits must be
 * the reference engine's, bit for bit, in float and integer arithmetic. Then the sources compiled
 * strictly (C99, -Wall -Wextra -Werror) for the host and Arm's Cortex-M0+, M4F, M7 and M33, the header from
 * C++17, and every external symbol of the library prefixed l2e_.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadForGeneration } from '../../src/engine/load.js';
import { findExecutable } from '../../src/doctor/requirements.js';
import { coreByName } from '../../src/library/cores.js';
import { exportLibrary } from '../../src/library/export.js';
import { projectRoot } from '../../src/util/project-root.js';
import { parseProgramOutput, runEngine } from '../helpers/engine-run.js';
import { readGoldenFile, stories260K, tempDir } from '../helpers/fixtures.js';
import { needs, requireNeeds } from '../helpers/needs.js';

function run(file: string, args: string[], cwd?: string): string {
  return execFileSync(file, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

/** Compiles `files` with `compiler` (its first word the program), failing the test with the compiler's messages. */
function compile(compiler: string[], flags: string[], files: string[], cwd: string): void {
  for (const file of files) {
    const r = spawnSync(compiler[0], [...compiler.slice(1), ...flags, '-c', '-o', '/dev/null', file], { cwd, encoding: 'utf8' });
    expect(r.status, `${compiler.join(' ')} ${file}:\n${r.stderr}`).to.equal(0);
    expect(r.stderr, `${compiler.join(' ')} ${file}`).to.equal('');
  }
}

const STRICT = ['-std=c99', '-O2', '-Wall', '-Wextra', '-Werror', '-ffp-contract=off', '-fno-fast-math', '-Iinclude'];
const SOURCES = [
  'src/llama2_embed.c',
  'src/forward.c',
  'src/forward_parallel.c',
  'src/tokenizer.c',
  'src/parallel.c',
  'src/weights.c',
  'src/tokenizer_image.c',
  'examples/generate/main.c',
];

/**
 * A program of the tests (test/library/NAME.c, written against llama2_embed.h alone) linked to the
 * library exported in `dir`, strictly (C99, no warning); returns its path.
 */
function buildProgram(dir: string, name: 'probe' | 'errors' = 'probe'): string {
  const program = join(dir, name);
  const source = join(projectRoot(), 'test', 'library', `${name}.c`);
  run('cc', ['-std=c99', '-Wall', '-Wextra', '-Werror', '-Iinclude', '-o', program, source, 'libllama2_embed.a', '-lm'], dir);
  return program;
}

describe('export --format c: the library against the engine', function () {
  needs('stories260K.bin', 'tok512.bin', 'cc', 'make');
  this.timeout(600_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  describe("float32 (the checkpoint's own weights)", () => {
    let dir = '';
    before(() => {
      dir = exportLibrary({ format: 'c', ...stories260K, out: join(tmp.dir, 'f32') }).outDir;
      run('make', ['-s'], dir);
    });

    it('its example prints the text llama2.c prints', () => {
      const text = run(join(dir, 'examples', 'generate', 'generate'), ['-i', 'Once upon a time', '-t', '0']);
      expect(text).to.equal(readGoldenFile('stories260K_f32_greedy_once_upon_a_time.txt'));
    });

    it("a program written against llama2_embed.h alone gets the engine's tokens and logits, bit for bit", () => {
      const probe = buildProgram(dir);
      const loaded = loadForGeneration({ ...stories260K });
      const engine = runEngine(
        loaded.model,
        loaded.tokenizer.encode('One day', true, false),
        200,
        { temperature: 0.8, topp: 0.9, seed: 7 },
        16,
      );
      const output = run(probe, ['One day', '200', '0.8', '0.9', '7', '16']);
      expect(output).to.contain('before init: -1 1 -1\n');
      expect(output).to.contain('strerror: the context is full: call l2e_reset() to start a new text / unknown error\n');
      const c = parseProgramOutput(output);
      expect(c.idLines).to.deep.equal(engine.idLines);
      expect(c.logitBits).to.have.length(16);
      for (let pos = 0; pos < 16; pos++)
        expect(
          Buffer.from(c.logitBits[pos].buffer).equals(Buffer.from(engine.logitBits[pos].buffer)),
          `logits at position ${pos}`,
        ).to.equal(true);
    });

    it('continues a text across calls: greedy, 30 then 70 positions make the tokens of one call of 100', () => {
      const probe = buildProgram(dir);
      const loaded = loadForGeneration({ ...stories260K });
      const engine = runEngine(loaded.model, loaded.tokenizer.encode('Once upon a time', true, false), 100, {
        temperature: 0,
        topp: 0.9,
        seed: 1,
      });
      const split = parseProgramOutput(run(probe, ['Once upon a time', '100', '-1', '0.9', '1', '0', '30']));
      expect(split.idLines).to.deep.equal(engine.idLines);
    });

    it('compiles without a warning as C99 for the host, the Cortex-M0+, M4F, M7 and M33, and its header as C++17', function () {
      compile(['cc'], STRICT, SOURCES, dir);
      const cpp = join(dir, 'header.cpp');
      writeFileSync(
        cpp,
        '#include "llama2_embed.h"\nint main() { l2e_params p{}; return l2e_generate("", &p, nullptr, nullptr) < 0 && l2e_model_info() != nullptr ? 0 : 1; }\n',
      );
      const r = spawnSync('g++', ['-std=c++17', '-Wall', '-Wextra', '-Werror', '-pedantic', '-Iinclude', '-c', '-o', '/dev/null', cpp], {
        cwd: dir,
        encoding: 'utf8',
      });
      if (r.error === undefined) expect(r.status, r.stderr).to.equal(0);
      requireNeeds(this, 'arm-none-eabi-gcc');
      const library = SOURCES.filter((s) => s.startsWith('src/'));
      compile(['arm-none-eabi-gcc', '-mcpu=cortex-m0plus', '-mthumb'], STRICT, library, dir);
      // the DSP cores (export --core) take the SXTB16/SMLAD dot products: strict too
      for (const core of ['cortex-m4f', 'cortex-m7', 'cortex-m33'])
        compile(['arm-none-eabi-gcc', ...coreByName(core).flags], STRICT, library, dir);
    });

    it('l2e_init refuses weights that are not the ones exported (a byte changed), and the check can be compiled out', () => {
      const copy = join(tmp.dir, 'f32-damaged');
      cpSync(dir, copy, { recursive: true });
      const weights = join(copy, 'src', 'weights.c');
      const text = readFileSync(weights, 'utf8');
      // the first byte of the string literal, "\\xNN": one more, modulo 256
      const first = text.indexOf('"\\x', text.indexOf('model_weights[')) + 3;
      const value = parseInt(text.slice(first, first + 2), 16);
      writeFileSync(weights, `${text.slice(0, first)}${((value + 1) % 256).toString(16).padStart(2, '0')}${text.slice(first + 2)}`);
      run('make', ['-s', 'libllama2_embed.a'], copy);
      const failed = spawnSync(buildProgram(copy), ['One day', '8', '0.8', '0.9', '7', '0'], { encoding: 'utf8' });
      expect(failed.status).to.equal(1);
      expect(failed.stderr).to.equal('l2e_init: the weights blob is not the one the library was exported with (size or hash)\n');
      compile(['cc'], [...STRICT, '-DL2E_SKIP_WEIGHTS_CHECK'], ['src/llama2_embed.c'], dir);
    });

    it('compiles for RISC-V rv32imc (riscv64-unknown-elf-gcc with picolibc, or newlib)', function () {
      requireNeeds(this, 'riscv64-unknown-elf-gcc');
      const cc = findExecutable('riscv64-unknown-elf-gcc');
      const rv32 = ['-march=rv32imc', '-mabi=ilp32'];
      // the compiler alone (Debian's gcc-riscv64-unknown-elf) has no string.h; picolibc comes with a specs file
      const withLibc = [[], ['--specs=picolibc.specs']].find((specs) => {
        const probe = spawnSync(cc!, [...rv32, ...specs, '-x', 'c', '-c', '-o', '/dev/null', '-'], {
          input: '#include <string.h>\n#include <math.h>\n',
          encoding: 'utf8',
        });
        return probe.status === 0;
      });
      expect(withLibc, 'riscv64-unknown-elf-gcc has no C library (string.h): install picolibc-riscv64-unknown-elf').to.not.equal(undefined);
      compile(
        [cc!, ...rv32, ...withLibc!],
        STRICT,
        SOURCES.filter((s) => s.startsWith('src/')),
        dir,
      );
    });

    it('exports no external symbol without the l2e_ prefix', () => {
      const defined = run('nm', ['-g', '--defined-only', join(dir, 'libllama2_embed.a')])
        .split('\n')
        .map((line) => line.trim().split(/\s+/))
        .filter((f) => f.length === 3)
        .map((f) => f[2]);
      expect(defined).to.include.members([
        'l2e_init',
        'l2e_reset',
        'l2e_generate',
        'l2e_forward',
        'l2e_encode',
        'l2e_decode',
        'l2e_model_info',
        'l2e_strerror',
      ]);
      expect(defined.filter((name) => !name.startsWith('l2e_'))).to.deep.equal([]);
    });
  });

  for (const quant of ['q8_0', 'q4_0', 'mixed'] as const) {
    it(`${quant} weights in float arithmetic: no warning in strict C99, and the engine's tokens and logits`, () => {
      const dir = exportLibrary({ format: 'c', ...stories260K, quant, out: join(tmp.dir, `float-${quant}`) }).outDir;
      compile(['cc'], STRICT, SOURCES, dir);
      run('make', ['-s', 'libllama2_embed.a'], dir);
      const loaded = loadForGeneration({ ...stories260K, weights: quant });
      const engine = runEngine(
        loaded.model,
        loaded.tokenizer.encode('One day', true, false),
        100,
        { temperature: 0.8, topp: 0.9, seed: 7 },
        4,
      );
      const c = parseProgramOutput(run(buildProgram(dir), ['One day', '100', '0.8', '0.9', '7', '4']));
      expect(c.idLines).to.deep.equal(engine.idLines);
      for (let pos = 0; pos < 4; pos++)
        expect(
          Buffer.from(c.logitBits[pos].buffer).equals(Buffer.from(engine.logitBits[pos].buffer)),
          `logits at position ${pos}`,
        ).to.equal(true);
    });
  }

  describe('integer arithmetic (Q8_0)', () => {
    let dir = '';
    before(() => {
      dir = exportLibrary({ format: 'c', ...stories260K, quant: 'q8_0', arithmetic: 'integer', out: join(tmp.dir, 'int') }).outDir;
    });

    it("exposes the same API, with the integer engine's tokens and logits, and compiles without a warning in strict C99", () => {
      compile(['cc'], STRICT, SOURCES, dir);
      run('make', ['-s', 'libllama2_embed.a'], dir);
      const probe = buildProgram(dir);
      const loaded = loadForGeneration({ ...stories260K, weights: 'q8_0' });
      const engine = runEngine(
        loaded.model,
        loaded.tokenizer.encode('One day', true, false),
        120,
        { temperature: 0.8, topp: 0.9, seed: 7 },
        8,
        { arithmetic: 'integer' },
      );
      const c = parseProgramOutput(run(probe, ['One day', '120', '0.8', '0.9', '7', '8']));
      expect(c.idLines).to.deep.equal(engine.idLines);
      for (let pos = 0; pos < 8; pos++)
        expect(
          Buffer.from(c.logitBits[pos].buffer).equals(Buffer.from(engine.logitBits[pos].buffer)),
          `logits at position ${pos}`,
        ).to.equal(true);
      expect(readdirSync(join(dir, 'src'))).to.include.members(['weights.c', 'tokenizer_image.c', 'l2e_private.h']);
    });

    it('links into a Cortex-M0+ program with newlib and no operating system, every symbol resolved', function () {
      requireNeeds(this, 'arm-none-eabi-gcc');
      const main = join(dir, 'm0plus.c');
      writeFileSync(
        main,
        '#include "llama2_embed.h"\nstatic volatile int last;\n' +
          'static int keep(const char *piece, int token, void *user) { (void)piece; (void)user; last = token; return 0; }\n' +
          'int main(void) { l2e_params p = {0, 0.0f, 0.0f, 0}; return l2e_init() != 0 || l2e_generate("Once upon a time", &p, keep, 0) < 0; }\n',
      );
      const sources = SOURCES.filter((s) => s.startsWith('src/'));
      const args = [
        '-mcpu=cortex-m0plus',
        '-mthumb',
        ...STRICT,
        '--specs=nano.specs',
        '--specs=nosys.specs',
        '-o',
        join(dir, 'm0plus.elf'),
        main,
        ...sources,
        '-lm',
      ];
      const r = spawnSync('arm-none-eabi-gcc', args, { cwd: dir, encoding: 'utf8' });
      // newlib's stubs for the system calls say they always fail; nothing else may be said
      const messages = r.stderr.split('\n').filter((line) => line !== '' && !/is not implemented and will always fail/.test(line));
      expect(r.status, r.stderr).to.equal(0);
      expect(messages).to.deep.equal([]);
    });
  });
});

describe('export --format c: every refusal the header documents', function () {
  needs('stories260K.bin', 'tok512.bin', 'cc', 'make');
  this.timeout(300_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('refuses as documented, stops when the callback says so, fills the context and starts again after l2e_reset', () => {
    const dir = exportLibrary({ format: 'c', ...stories260K, out: join(tmp.dir, 'lib') }).outDir;
    run('make', ['-s', 'libllama2_embed.a'], dir);
    const program = buildProgram(dir, 'errors');
    expect(run(program, []).split('\n')).to.deep.equal([
      'init 0',
      'info stories260K.bin 512 512 64 5 f32 1056512 e8b2514fe87e2cbb',
      'encode-small-buffer -7',
      'encode-null -4',
      'encode 6',
      'generate-long-prompt -5',
      'forward-bad-token 1',
      'forward-bad-pos 1',
      'decode-bad-token ""',
      'generate-stopped 3 3',
      // 256 positions (the default steps), then continuing: the story ends (BOS) in the second call,
      // a third one starts the next text after it and runs to the end of the context of 512
      'context-full -8 after 3 calls',
      'after-reset 1',
      'strerror the prompt does not fit the context (more bytes than seq_len, or more tokens than the context has left)',
      '',
    ]);
  });
});
