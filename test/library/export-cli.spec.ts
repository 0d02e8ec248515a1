/**
 * `llama2-embed export` as a user runs it: its mistakes refused before any work with what to do
 * (an unknown format gets the list of known ones), and an output directory replaced only as a whole.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, expectUserError } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { needs, requireNeeds } from '../helpers/needs.js';

describe('llama2-embed export (command line)', function () {
  this.timeout(120_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('refuses an unknown format with the list of known ones, before writing anything', () => {
    const out = join(tmp.dir, 'unknown');
    const message = expectUserError(cli(['export', '--format', 'keil', '-o', out]), 2);
    expect(message).to.contain('unknown --format "keil"');
    for (const format of ['c', 'pico-sdk', 'arduino', 'platformio', 'esp-idf', 'zephyr'])
      expect(message).to.match(new RegExp(`^  ${format} `, 'm'));
    expect(existsSync(out)).to.equal(false);
  });

  it("refuses an unknown core or board with the list of known ones, and a core that is not the board's, before loading anything", () => {
    const out = join(tmp.dir, 'unknown-core');
    const core = expectUserError(cli(['export', '--format', 'c', '--core', 'z80', '-m', 'no-such-model.bin', '-o', out]), 2);
    expect(core).to.contain('unknown --core "z80"');
    for (const name of ['cortex-m0plus', 'cortex-m4f', 'cortex-m7', 'cortex-m33', 'rv32imc', 'xtensa-lx7', 'generic'])
      expect(core).to.match(new RegExp(`^  ${name} `, 'm'));
    const board = expectUserError(cli(['export', '--format', 'c', '--board', 'uno', '-m', 'no-such-model.bin', '-o', out]), 2);
    expect(board).to.contain('unknown --board "uno"');
    for (const name of ['pico', 'pico2', 'esp32-s3-devkitc-1', 'esp32-c3-devkitm-1', 'nucleo-h743zi', 'nucleo-f446re'])
      expect(board).to.match(new RegExp(`^  ${name} `, 'm'));
    const mismatch = expectUserError(cli(['export', '--format', 'c', '--board', 'pico', '--core', 'cortex-m4f', '-o', out]), 2);
    expect(mismatch).to.contain("--core cortex-m4f is not pico's core: that board has a cortex-m0plus");
    expect(existsSync(out)).to.equal(false);
  });

  it('asks for --format when it is missing', () => {
    const message = expectUserError(cli(['export', '-o', join(tmp.dir, 'none')]), 2);
    expect(message).to.contain('name the ecosystem with --format: c, pico-sdk, arduino, platformio, esp-idf, zephyr');
  });

  it('refuses to replace a directory it did not write, or a file, and leaves them as they were', () => {
    const foreign = join(tmp.dir, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'mine');
    expect(expectUserError(cli(['export', '--format', 'c', '-o', foreign]), 2)).to.contain('not one that llama2-embed export wrote');
    expect(readdirSync(foreign)).to.deep.equal(['notes.txt']);
    const file = join(tmp.dir, 'file');
    writeFileSync(file, 'x');
    expect(expectUserError(cli(['export', '--format', 'c', '-o', file]), 2)).to.contain('is a file');
  });

  describe('with stories260K', () => {
    needs('stories260K.bin', 'tok512.bin');

    it('replaces an earlier export as a whole, leaving nothing beside it', () => {
      const out = join(tmp.dir, 'lib');
      const first = cli(['export', '--format', 'arduino', '-o', out]);
      expect(first.status, first.stderr).to.equal(0);
      expect(first.stderr).to.match(
        /^exported .*lib \(--format arduino, --core generic\)\n {2}f32, seq_len 512; 1,056,512 bytes of weights/,
      );
      writeFileSync(join(out, 'stray.txt'), 'left by hand');
      const second = cli(['export', '--format', 'c', '--quant', 'q8_0', '--seq-len', '64', '-o', out, '--quiet']);
      expect(second.status, second.stderr).to.equal(0);
      expect(second.stderr).to.equal('');
      expect(readdirSync(out).sort()).to.deep.equal(['CMakeLists.txt', 'Makefile', 'examples', 'export-info.json', 'include', 'src']);
      expect(readdirSync(tmp.dir).filter((name) => name.startsWith('.lib'))).to.deep.equal([]);
    });

    it("refuses a library that does not fit the board's memory before writing anything, saying what would fit", () => {
      const out = join(tmp.dir, 'too-big');
      const message = expectUserError(cli(['export', '--format', 'c', '--board', 'nucleo-f446re', '-o', out]), 2);
      expect(message).to.contain('the library does not fit nucleo-f446re');
      expect(message).to.match(/flash \(flash\): the plan needs 1\.0 MiB but nucleo-f446re has 448\.0 KiB .*What would fit: --quant q8_0/);
      expect(message).to.match(/sram \(sram\): the plan needs .* but nucleo-f446re has 112\.0 KiB .*What would fit: --seq-len \d+/);
      expect(existsSync(out)).to.equal(false);
    });

    it("exports for a board: its core's defaults (no FPU: Q8_0, integer) and its compiler and flags in the Makefile, which builds the library", function () {
      const out = join(tmp.dir, 'pico');
      const r = cli(['export', '--format', 'c', '--board', 'pico', '-o', out]);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stderr).to.contain('(--format c, --core cortex-m0plus, --board pico)\n  q8_0 integer, seq_len 512;');
      const info = JSON.parse(readFileSync(join(out, 'export-info.json'), 'utf8')) as { core: string; board: string };
      expect([info.core, info.board]).to.deep.equal(['cortex-m0plus', 'pico']);
      const makefile = readFileSync(join(out, 'Makefile'), 'utf8');
      expect(makefile).to.contain('CC = arm-none-eabi-gcc\n');
      expect(makefile).to.contain('CORE_FLAGS = -mcpu=cortex-m0plus -mthumb\n');
      requireNeeds(this, 'arm-none-eabi-gcc', 'make');
      const made = spawnSync('make', ['-s'], { cwd: out, encoding: 'utf8' });
      expect(made.status, made.stderr).to.equal(0);
      expect(made.stderr).to.equal('');
      expect(existsSync(join(out, 'libllama2_embed.a'))).to.equal(true);
    });
  });
});
