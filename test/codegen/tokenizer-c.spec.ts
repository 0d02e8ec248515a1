/**
 * The C tokenizer that host programs and firmwares with --embed-tokenizer carry
 * (templates/common/tokenizer.c), compiled here under AddressSanitizer and UBSan with a small
 * harness, reading tokenizer.bin at init or (TOKENIZER_TABLES) the tables generated at build time:
 * a tokenizer that does not match the model's vocabulary, or lacks a piece encoding
 * needs, must be refused with a message and a non-zero exit, never read or written out of bounds.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../src/util/project-root.js';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { emitTokenizerTables, emitTokenizerTablesHeader } from '../../src/codegen/tokenizer-tables.js';
import { modelPath, tempDir } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

const HARNESS = `
#include <stdio.h>
#include <stdlib.h>
#include "tokenizer.h"

static unsigned char image[1 << 20];
static int tokens[4096];

int main(int argc, char** argv) {
    if (argc != 3) return 2;
    FILE* f = fopen(argv[1], "rb");
    size_t size = fread(image, 1, sizeof image, f);
    fclose(f);
#if !TOKENIZER_TABLES
    int status = tokenizer_init(image, size);
    if (status != 0) {
        fprintf(stderr, "refused: %s\\n", tokenizer_error(status));
        return 1;
    }
#else
    (void)size; /* the tables were generated from the same file at build time */
#endif
    int n = tokenizer_encode(argv[2], 1, 0, tokens);
    if (n < 0) {
        fprintf(stderr, "refused: %s\\n", tokenizer_error(n));
        return 1;
    }
    for (int i = 0; i < n; i++) printf("%d\\n", tokens[i]);
    return 0;
}
`;

/** A tokenizer.bin: max_token_length, then a score, a length and the bytes of each piece. */
function tokenizerImage(pieces: string[]): Buffer {
  const bytes = pieces.map((p) => Buffer.from(p, 'utf8'));
  const header = Buffer.alloc(4);
  header.writeInt32LE(Math.max(1, ...bytes.map((b) => b.length)));
  const entries = bytes.map((b, i) => {
    const head = Buffer.alloc(8);
    head.writeFloatLE(-i, 0);
    head.writeInt32LE(b.length, 4);
    return Buffer.concat([head, b]);
  });
  return Buffer.concat([header, ...entries]);
}

describe('C tokenizer (templates/common/tokenizer.c): refuses a tokenizer that does not fit the model', function () {
  needs('tok512.bin', 'tokenizer.bin', 'cc');
  this.timeout(120_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  /** Compiles the tokenizer for a model of `vocabSize` tokens, sized for `image`, and runs it on `image` and `text`. */
  function run(name: string, vocabSize: number, image: Buffer, text: string, tables = false) {
    const dir = join(tmp.dir, name);
    execFileSync('mkdir', ['-p', dir]);
    const file = join(dir, 'tokenizer.bin');
    const common = join(projectRoot(), 'templates', 'common');
    writeFileSync(file, image);
    writeFileSync(join(dir, 'harness.c'), HARNESS);
    writeFileSync(
      join(dir, 'model.h'),
      `#define VOCAB_SIZE ${vocabSize}\n#define TOKENIZER_BYTES ${image.length}\n#define TOKENIZER_MAX_TOKEN_LENGTH ${Math.max(1, image.readInt32LE(0))}\n` +
        `#define TOKENIZER_TABLES ${tables ? 1 : 0}\n`,
    );
    const sources = [join(dir, 'harness.c'), join(common, 'tokenizer.c')];
    if (tables) {
      const tokenizer = Tokenizer.read(file, vocabSize);
      writeFileSync(join(dir, 'tokenizer_tables.c'), Buffer.concat([...emitTokenizerTables(tokenizer, '/* test */')]));
      writeFileSync(join(dir, 'tokenizer_tables.h'), emitTokenizerTablesHeader('/* test */'));
      sources.push(join(dir, 'tokenizer_tables.c'));
    }
    const exe = join(dir, 'harness');
    const flags = ['-std=c99', '-Wall', '-Wextra', '-Werror', '-g', '-O1', '-fsanitize=address,undefined', '-fno-sanitize-recover=all'];
    execFileSync('cc', [...flags, `-I${dir}`, `-I${common}`, '-o', exe, ...sources], {
      stdio: 'pipe',
    });
    const r = spawnSync(exe, [file, text], { encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0' } });
    return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  }

  function expectRefused(r: ReturnType<typeof run>, message: RegExp): void {
    expect(r.stderr).to.not.match(/Sanitizer|runtime error/);
    expect(r.signal, r.stderr).to.equal(null);
    expect(r.status, r.stderr).to.equal(1);
    expect(r.stderr).to.match(message);
  }

  it("encodes as the reference with the model's own tokenizer", () => {
    const image = readFileSync(modelPath('tok512.bin'));
    const r = run('own', 512, image, 'Once upon a time');
    expect(r.status, r.stderr).to.equal(0);
    const expected = Tokenizer.read(modelPath('tok512.bin'), 512).encode('Once upon a time', true, false);
    expect(r.stdout.trim().split('\n').map(Number)).to.deep.equal(expected);
  });

  it('encodes as the reference from the tables generated at build time (TOKENIZER_TABLES), tok512.bin and tokenizer.bin', () => {
    // merges across words, byte fallback, emoji, a long text: under AddressSanitizer
    const text = 'Lily saw a big dog. "Hi!" she said — Zoë, naïve 日本 🙂 '.repeat(20);
    for (const [name, vocabSize] of [
      ['tok512.bin', 512],
      ['tokenizer.bin', 32000],
    ] as const) {
      const r = run(`tables-${vocabSize}`, vocabSize, readFileSync(modelPath(name)), text, true);
      expect(r.status, r.stderr).to.equal(0);
      const expected = Tokenizer.read(modelPath(name), vocabSize).encode(text, true, false);
      expect(r.stdout.trim().split('\n').map(Number)).to.deep.equal(expected);
    }
  });

  it("refuses Llama 2's 32,000-piece tokenizer.bin for a 512-token model", () => {
    expectRefused(
      run('llama2', 512, readFileSync(modelPath('tokenizer.bin')), 'Once upon a time'),
      /more pieces than the model's vocabulary/,
    );
  });

  it("refuses a tokenizer with fewer pieces than the model's vocabulary", () => {
    expectRefused(run('few', 1000, readFileSync(modelPath('tok512.bin')), 'Once upon a time'), /fewer pieces than the model's vocabulary/);
  });

  it('refuses a tokenizer of empty pieces', () => {
    expectRefused(run('empty', 512, tokenizerImage(Array.from({ length: 512 }, () => '')), 'Once upon a time'), /no " " piece/);
  });

  it('refuses a tokenizer without " "', () => {
    const pieces = Array.from({ length: 512 }, (_, i) => `p${i}`);
    expectRefused(run('no-space', 512, tokenizerImage(pieces), 'Once upon a time'), /no " " piece/);
  });

  it('refuses to encode with a 100-piece vocabulary text that needs byte pieces it lacks', () => {
    const pieces = [
      '<unk>',
      '<s>',
      '</s>',
      ' ',
      ...Array.from({ length: 96 }, (_, i) => String.fromCharCode(0x61 + (i % 26)).repeat(1 + Math.floor(i / 26))),
    ];
    expect(run('small-ok', 100, tokenizerImage(pieces), 'abc').status).to.equal(0);
    expectRefused(run('small', 100, tokenizerImage(pieces), 'café'), /byte piece .* beyond the tokenizer's vocabulary/);
  });

  it('refuses a piece longer than the max_token_length in its header', () => {
    const image = tokenizerImage(['<unk>', '<s>', '</s>', ' ', 'a'.repeat(40)]);
    image.writeInt32LE(8, 0);
    expectRefused(run('long', 5, image, 'a'), /longer than its max_token_length/);
  });
});
