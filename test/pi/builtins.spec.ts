/**
 * dot_q8_rows4's AArch64 paths against its TypeScript twin: NEON (SMULL/SMLAL2/SADALP) as the
 * rpi4 and rpi-zero2 targets build it, SDOT as the rpi5 target builds it (in that one function
 * only), and the portable loop, each cross-compiled with the target's own flags and run under
 * qemu-aarch64 with the board's CPU.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dotCases, dotExpected, dotProgram } from '../helpers/dot-builtins.js';
import { tempDir } from '../helpers/fixtures.js';
import { crossCompile, functionsUsing, runQemu, runQemuOk } from './qemu.js';
import { needs } from '../helpers/needs.js';

/** Every length up to 40 (the 16- and 8-wide steps and the scalar tail in every combination), then group and row sizes. */
const LENGTHS = [...Array.from({ length: 40 }, (_, i) => i + 1), 44, 48, 63, 64, 65, 96, 127, 128, 172, 256, 288, 300];
const RUNS = { rowStride: 320, lengths: LENGTHS, groupSizes: [] };

describe('pi: dot_q8_rows4 on AArch64 (qemu-aarch64) equals the TypeScript loop', function () {
  needs('aarch64-linux-gnu-gcc', 'qemu-aarch64');
  this.timeout(300_000);
  const tmp = tempDir('llama2-embed-pi-builtins-');
  after(() => tmp.cleanup());
  const all = dotCases(RUNS.rowStride, 2024);
  const want = dotExpected(all, RUNS);
  const source = join(tmp.dir, 'dot.c');
  before(() => writeFileSync(source, dotProgram(all, RUNS)));

  const check = (stdout: string) => {
    const got = stdout.trim().split('\n');
    expect(got).to.have.length(want.length);
    for (let i = 0; i < want.length; i++) {
      expect(got[i], `${all[Math.floor(i / LENGTHS.length)].name}, n = ${LENGTHS[i % LENGTHS.length]}`).to.equal(want[i]);
    }
  };

  for (const [target, cpu] of [
    ['rpi4', 'cortex-a72'],
    ['rpi-zero2', 'cortex-a53'],
  ] as const) {
    it(`NEON path (${target} flags, -cpu ${cpu}): SMULL/SMLAL2/SADALP, no SDOT anywhere`, () => {
      const exe = join(tmp.dir, `dot-${target}`);
      crossCompile(target, source, exe);
      check(runQemuOk(cpu, exe, []));
      expect(
        [...functionsUsing(exe, 'sadalp').keys()].some((f) => f.startsWith('dot_q8_rows4') || f === 'main'),
        'SADALP in the builtin',
      ).to.equal(true);
      expect(functionsUsing(exe, 'sdot').size).to.equal(0);
    });
  }

  it('SDOT path (rpi5 flags, -cpu cortex-a76): SDOT in dot_q8_rows4 only; the same program dies of SIGILL on a Cortex-A72', () => {
    const exe = join(tmp.dir, 'dot-rpi5');
    crossCompile('rpi5', source, exe);
    check(runQemuOk('cortex-a76', exe, []));
    const users = functionsUsing(exe, 'sdot');
    expect(users.size).to.be.greaterThan(0);
    for (const fn of users.keys()) expect(fn, 'a function using SDOT').to.match(/^dot_q8_rows4/);
    // this test program has no CPU check (main.c has): shows why the check is needed
    expect(runQemu('cortex-a72', exe, []).signal).to.equal('SIGILL');
  });

  it("the portable loop (LLAMA2_EMBED_NO_INTRINSICS, the benchmarks' baseline) agrees too", () => {
    const exe = join(tmp.dir, 'dot-plain');
    crossCompile('rpi4', source, exe, ['-DLLAMA2_EMBED_NO_INTRINSICS']);
    check(runQemuOk('cortex-a72', exe, []));
  });
});
