/**
 * The dot-product builtins' Arm DSP path (SXTB16 + SMLAD, kernel-builtins.h's DOT_Q8_DSP) against
 * their TypeScript twins, on the emulated Cortex-M4F, M7 and M33 (qemu-system-arm, mps2-an386,
 * mps2-an500 and mps2-an505): every length up to 40 (the 4-wide steps and the scalar tails), group sizes with
 * short last groups, unaligned offsets, and the extreme values whose products are largest.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { coreByName } from '../../src/library/cores.js';
import { buildForEmulator, runOnEmulator } from '../../src/library/emulator.js';
import { dotCases, dotExpected, dotProgram } from '../helpers/dot-builtins.js';
import { tempDir } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

/** Every length up to 40 (the 4-wide steps and the scalar tails), then groups and rows of the models' sizes. */
const RUNS = {
  rowStride: 200,
  lengths: [...Array.from({ length: 40 }, (_, i) => i + 1), 63, 64, 65, 172, 190],
  groupSizes: [4, 7, 32, 64],
};

describe('library: the DSP dot products (SXTB16 + SMLAD) on the emulated Cortex-M4F, M7 and M33 equal the TypeScript loops', function () {
  needs('arm-none-eabi-gcc', 'qemu-system-arm');
  this.timeout(120_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  for (const name of ['cortex-m4f', 'cortex-m7', 'cortex-m33']) {
    it(`${name}: dot_q8_rows4 and dot_q8_groups, every length and group size`, () => {
      const all = dotCases(RUNS.rowStride, 17);
      // no library: the program is the builtins alone
      const dir = join(tmp.dir, name);
      mkdirSync(join(dir, 'src'), { recursive: true });
      mkdirSync(join(dir, 'include'), { recursive: true });
      const source = join(dir, 'dot.c');
      writeFileSync(source, dotProgram(all, RUNS));
      const core = coreByName(name);
      const elf = join(dir, 'dot.elf');
      buildForEmulator({ libraryDir: dir, core, program: source, args: [], elf });
      const disassembly = spawnSync('arm-none-eabi-objdump', ['-d', elf], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).stdout;
      expect(disassembly, 'the DSP path was compiled').to.match(/\tsmlad\t/);
      expect(disassembly).to.match(/\tsxtb16\t.*ror #8/);
      const run = runOnEmulator(core, elf, []);
      expect(run.status, run.stderr).to.equal(0);
      expect(run.stdout.trimEnd().split('\n')).to.deep.equal(dotExpected(all, RUNS));
    });
  }
});
