/**
 * `llama2-embed export` as a user runs it: its mistakes refused before any work with what to do
 * (an unknown format gets the list of known ones), and an output directory replaced only as a whole.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, expectUserError } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

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
      expect(first.stderr).to.match(/^exported .*lib \(--format arduino\)\n {2}f32, seq_len 512; 1,056,512 bytes of weights/);
      writeFileSync(join(out, 'stray.txt'), 'left by hand');
      const second = cli(['export', '--format', 'c', '--quant', 'q8_0', '--seq-len', '64', '-o', out, '--quiet']);
      expect(second.status, second.stderr).to.equal(0);
      expect(second.stderr).to.equal('');
      expect(readdirSync(out).sort()).to.deep.equal(['CMakeLists.txt', 'Makefile', 'examples', 'export-info.json', 'include', 'src']);
      expect(readdirSync(tmp.dir).filter((name) => name.startsWith('.lib'))).to.deep.equal([]);
    });
  });
});
