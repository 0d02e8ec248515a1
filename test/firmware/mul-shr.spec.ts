/**
 * mul_shr on the Cortex-M0+: both paths the RP2040 kernels take for a constant shift (a 16-bit
 * first operand in C, the inline assembly for the rest), against libgcc's 64-bit product, for every shift and operands of every size and sign
 * (test/firmware/mul-shr/main.c, run in rp2040js). The TypeScript twin is checked against the
 * portable C in test/codegen/builtins.spec.ts.
 */
import { expect } from 'chai';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { projectRoot } from '../../src/util/project-root.js';
import { tempDir } from '../helpers/fixtures.js';
import { buildRp2040Program } from '../helpers/rp2040-program.js';
import { needs } from '../helpers/needs.js';

describe('rp2040: mul_shr in ARMv6-M assembly equals the 64-bit product', function () {
  needs('arm-none-eabi-gcc', 'make');
  this.timeout(120_000);
  const tmp = tempDir('llama2-embed-mul-shr-');
  after(() => tmp.cleanup());

  it('for every shift 1..31 on edge and random operands; a 16-bit first operand is the cheapest path', async () => {
    copyFileSync(join(projectRoot(), 'templates', 'common', 'kernel-builtins.h'), join(tmp.dir, 'kernel-builtins.h'));
    copyFileSync(join(projectRoot(), 'test', 'firmware', 'common', 'random-operands.h'), join(tmp.dir, 'random-operands.h'));
    const { uf2 } = buildRp2040Program(tmp.dir, join(projectRoot(), 'test', 'firmware', 'mul-shr', 'main.c'));
    const result = await (await Rp2040Emulator.load(uf2)).run({ maxSeconds: 60 });
    const values = new Map(
      result.output
        .split('\n')
        .filter((l) => /^\w+=\d+$/.test(l))
        .map((l) => l.split('=') as [string, string]),
    );
    expect(result.output).to.not.match(/mismatch a=/);
    expect(Number(values.get('mismatches'))).to.equal(0);
    // 20 x 20 edge pairs and 1500 random ones per shift, those whose result fits 32 bits
    expect(Number(values.get('checked'))).to.be.greaterThan(31 * 1000);
    // cycles a call on each path (the generic 64-bit C would take about 50, __aeabi_lmul more)
    const cycles = (key: string) => Number(values.get(key)) / 100;
    expect(cycles('cycles_16bit_x100')).to.be.within(8, 16);
    expect(cycles('cycles_wide_shift16_x100')).to.be.within(cycles('cycles_16bit_x100') + 8, 32);
    expect(cycles('cycles_wide_shift24_x100')).to.be.within(cycles('cycles_16bit_x100') + 8, 32);
  });
});
