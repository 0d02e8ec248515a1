/**
 * A build's output directory is replaced only as a whole (src/toolchain/output-dir.ts), its
 * build-info.json records the program's hashes (src/toolchain/build-info.ts), and what decides a
 * rebuild (requestKey) leaves out an executable's run-time flags.
 */
import { expect } from 'chai';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildFileProblems, checkBuildFiles, hashFiles, type BuildInfo } from '../../src/toolchain/build-info.js';
import { requestKey } from '../../src/toolchain/build.js';
import { checkOutputDir, cleanLeftovers, makeStagingDir, replaceDir } from '../../src/toolchain/output-dir.js';
import { locateFirmware } from '../../src/pico/firmware-file.js';
import { locateProgram } from '../../src/pi/ssh-deploy.js';
import { userError } from '../helpers/errors.js';
import { tempDir } from '../helpers/fixtures.js';

/** A pid that no process has (pids stay far below this on Linux). */
const DEAD_PID = 4_000_000;

function writeDir(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
}

describe('build output directory: replaced as a whole, leftovers of killed builds cleaned up', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());
  let n = 0;
  const fresh = () => join(tmp.dir, `case${n++}`);

  it('refuses an existing file, or a directory that a build did not write, before any work', () => {
    const base = fresh();
    writeDir(base, { 'notes.txt': 'mine' });
    expect(userError(() => checkOutputDir(join(base, 'notes.txt'))).message).to.match(
      /exists and is a file, but a build writes a directory there/,
    );
    expect(userError(() => checkOutputDir(base)).message).to.match(
      /a directory with other files in it, not one that llama2-embed build wrote/,
    );
    writeDir(join(base, 'built'), { 'build-info.json': '{}' });
    checkOutputDir(join(base, 'built'));
    checkOutputDir(join(base, 'new'));
  });

  it('replaces the old directory with the new one whole, and leaves nothing beside it', () => {
    const base = fresh();
    const out = join(base, 'host');
    writeDir(out, { 'build-info.json': 'old', llama2: 'old program', 'stale.o': 'x' });
    const staging = makeStagingDir(out);
    writeDir(staging, { 'build-info.json': 'new', llama2: 'new program' });
    replaceDir(staging, out);
    expect(readdirSync(out).sort()).to.deep.equal(['build-info.json', 'llama2']);
    expect(readFileSync(join(out, 'llama2'), 'utf8')).to.equal('new program');
    expect(readdirSync(base)).to.deep.equal(['host']);
  });

  it('removes the staging directories of killed builds, and puts back an old directory moved aside whose replacement never came', () => {
    const base = fresh();
    const out = join(base, 'host');
    writeDir(join(base, `.host.tmp-${DEAD_PID}`), { llama2: 'half' });
    writeDir(join(base, `.host.old-${DEAD_PID}`), { 'build-info.json': 'old', llama2: 'old program' });
    writeDir(join(base, `.host.tmp-${process.pid + 0}x`), { keep: 'not a leftover name' });
    writeDir(join(base, `.other.tmp-${DEAD_PID}`), { keep: "another directory's" });
    cleanLeftovers(out);
    expect(readdirSync(base).sort()).to.deep.equal([`.host.tmp-${process.pid}x`, `.other.tmp-${DEAD_PID}`, 'host']);
    expect(readFileSync(join(out, 'llama2'), 'utf8')).to.equal('old program');
    // with the output in place, an old directory moved aside is only removed
    writeDir(join(base, `.host.old-${DEAD_PID}`), { llama2: 'older' });
    cleanLeftovers(out);
    expect(readFileSync(join(out, 'llama2'), 'utf8')).to.equal('old program');
    expect(readdirSync(base)).to.not.include(`.host.old-${DEAD_PID}`);
  });

  it('leaves alone the staging directory of a build still running', () => {
    const base = fresh();
    writeDir(join(base, `.host.tmp-${process.ppid}`), { llama2: 'in progress' });
    cleanLeftovers(join(base, 'host'));
    expect(readdirSync(base)).to.deep.equal([`.host.tmp-${process.ppid}`]);
  });
});

describe('build-info.json: the hashes of the program it describes', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('finds a program that differs from, or is missing beside, its build-info.json', () => {
    const dir = join(tmp.dir, 'b');
    writeDir(dir, { llama2: 'program A' });
    const info = { target: 'host', files: hashFiles(dir, ['llama2']) } as unknown as BuildInfo;
    writeFileSync(join(dir, 'build-info.json'), JSON.stringify(info));
    expect(buildFileProblems(dir, info, true)).to.deep.equal([]);
    checkBuildFiles(dir, 'host');
    writeFileSync(join(dir, 'llama2'), 'program B');
    expect(buildFileProblems(dir, info, true)).to.deep.equal(['llama2 is not the file its build-info.json describes (another SHA-256)']);
    expect(userError(() => checkBuildFiles(dir, 'host')).message).to.match(
      /is not the one its build-info.json describes: llama2 is not the file .* Build it again: llama2-embed build --target host/,
    );
    writeFileSync(join(dir, 'build-info.json'), JSON.stringify({ ...info, files: { ...info.files, 'firmware.uf2': 'ab' } }));
    expect(buildFileProblems(dir, { ...info, files: { 'firmware.uf2': 'ab' } }, true)).to.deep.equal(['firmware.uf2 is missing']);
  });

  it('flash and flash --host refuse a program that is not the one build-info.json describes', () => {
    const fw = join(tmp.dir, 'rp2040');
    writeDir(fw, { 'firmware.uf2': 'image A', 'firmware.elf': 'elf A', 'firmware.bin': 'bin A' });
    writeFileSync(
      join(fw, 'build-info.json'),
      JSON.stringify({ target: 'rp2040', files: hashFiles(fw, ['firmware.elf', 'firmware.bin', 'firmware.uf2']) }),
    );
    expect(locateFirmware(fw, 'rp2040').uf2).to.equal(join(fw, 'firmware.uf2'));
    writeFileSync(join(fw, 'firmware.uf2'), 'image B, half written');
    expect(userError(() => locateFirmware(fw, 'rp2040')).message).to.match(/firmware\.uf2 is not the file its build-info.json describes/);
    const host = join(tmp.dir, 'host');
    writeDir(host, { llama2: 'program A' });
    writeFileSync(join(host, 'build-info.json'), JSON.stringify({ target: 'host', model: 'm.bin', files: { llama2: '00' } }));
    expect(userError(() => locateProgram(host, 'host')).message).to.match(/llama2 is not the file its build-info.json describes/);
  });

  it('counts a build-info.json without hashes (an older build) as a mismatch for run, not for flash', () => {
    const info = { target: 'host' } as unknown as BuildInfo;
    expect(buildFileProblems(tmp.dir, info, true)).to.have.length(1);
    expect(buildFileProblems(tmp.dir, info, false)).to.deep.equal([]);
  });
});

describe('requestKey: what makes run rebuild', () => {
  const base = { model: 'm.bin', tokenizer: 't.bin' };
  const generation = { prompt: '', steps: 256, temperature: 1, topp: 0.9, seed: 42n };

  for (const target of ['host', 'rpi4']) {
    it(`${target}: the same with and without build's generation options (run-time flags of the program)`, () => {
      const built = requestKey({ target, ...base, ...generation, embedTokenizer: false }, 'm.bin', 't.bin');
      const run = requestKey({ target, ...base }, 'm.bin', 't.bin');
      expect(built).to.deep.equal(run);
      expect(requestKey({ target, ...base, quant: 'q8_0' }, 'm.bin', 't.bin')).to.not.deep.equal(run);
    });
  }

  it('rp2040: a firmware bakes them in, so they count', () => {
    const key = (req: object) => requestKey({ target: 'rp2040', ...base, ...req }, 'm.bin', 't.bin');
    expect(key(generation)).to.deep.equal(key({}));
    expect(key({ ...generation, prompt: 'One day' })).to.not.deep.equal(key({}));
    expect(key({ seed: 7n })).to.not.deep.equal(key({}));
  });
});
