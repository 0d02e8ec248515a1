/**
 * generation.h's prompt text (src/codegen/firmware.ts), which a firmware with --embed-tokenizer
 * encodes at reset: the C string literal must hold the prompt's exact UTF-8 bytes (compiled here
 * and read back), and a prompt a C string cannot hold (a NUL byte) is refused with a reason, by
 * build before any work.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cStringLiteral, emitGenerationHeader, type BakedGeneration } from '../../src/codegen/firmware.js';
import { build } from '../../src/toolchain/build.js';
import { UserError } from '../../src/util/errors.js';
import { rejectedUserError } from '../helpers/errors.js';
import { tempDir } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

const BASE: BakedGeneration = {
  promptTokens: [1],
  steps: 4,
  temperature: 0,
  topp: 0.9,
  seed: 42n,
  embedTokenizer: true,
  exitAfterGeneration: true,
};

describe('generation.h: the prompt as a C string', function () {
  needs('cc');
  this.timeout(60_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('holds the exact UTF-8 bytes of quotes, backslashes, trigraph-like ?? sequences, control bytes, accents and emoji', () => {
    const prompt = 'She said "Hi\\there"??( ok?)\t\nZoë 日本 🙂 \x7f0';
    writeFileSync(join(tmp.dir, 'generation.h'), emitGenerationHeader({ ...BASE, prompt }, '/* test */'));
    writeFileSync(
      join(tmp.dir, 'main.c'),
      '#include <stdio.h>\n#include "generation.h"\nint main(void) {\n' +
        '    for (const unsigned char* p = (const unsigned char*)GENERATION_PROMPT; *p; p++) printf("%02x", *p);\n    return 0;\n}\n',
    );
    const exe = join(tmp.dir, 'main');
    execFileSync('cc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-o', exe, join(tmp.dir, 'main.c')]);
    expect(execFileSync(exe, { encoding: 'utf8' })).to.equal(Buffer.from(prompt, 'utf8').toString('hex'));
    expect(cStringLiteral('a"b')).to.equal('"a\\042b"');
  });

  it('refuses a prompt with a NUL byte when the firmware encodes it, and takes it when the host does', () => {
    expect(() => emitGenerationHeader({ ...BASE, prompt: 'a\0b' }, '')).to.throw(UserError, /NUL byte.*--embed-tokenizer/);
    expect(emitGenerationHeader({ ...BASE, prompt: 'a\0b', embedTokenizer: false }, '')).to.contain('GENERATION_PROMPT_TOKENS { 1 }');
  });

  it('build refuses it before any work: no model loaded, no output directory', async () => {
    const out = join(tmp.dir, 'nul');
    const err = await rejectedUserError(
      build({ target: 'rp2040', model: join(tmp.dir, 'absent.bin'), prompt: 'a\0b', embedTokenizer: true, out }, () => {}),
    );
    expect(err.message).to.match(/NUL byte/);
    expect(existsSync(out)).to.equal(false);
  });
});
