/**
 * idiv on the RP2040: the kernels' integer division goes to the core's hardware divider inline
 * (templates/common/kernel-builtins.h, LLAMA2_EMBED_SIO_DIVIDER in targets/rp2040.json), checked
 * against libgcc's software division in rp2040js (test/firmware/idiv/main.c).
 */
import { expect } from 'chai';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { projectRoot } from '../../src/util/project-root.js';
import { loadTarget } from '../../src/plan/target.js';
import { tempDir } from '../helpers/fixtures.js';
import { buildRp2040Program } from '../helpers/rp2040-program.js';
import { needs } from '../helpers/needs.js';

describe('rp2040: idiv on the hardware divider equals C division', function () {
  needs('arm-none-eabi-gcc', 'make');
  this.timeout(120_000);
  const tmp = tempDir('llama2-embed-idiv-');
  after(() => tmp.cleanup());

  it('for edge and random operands, run-time and constant divisors, in fewer cycles than a call to __aeabi_idiv', async () => {
    expect(loadTarget('rp2040').toolchain.cflags).to.include('-DLLAMA2_EMBED_SIO_DIVIDER');
    copyFileSync(join(projectRoot(), 'templates', 'common', 'kernel-builtins.h'), join(tmp.dir, 'kernel-builtins.h'));
    copyFileSync(join(projectRoot(), 'test', 'firmware', 'common', 'random-operands.h'), join(tmp.dir, 'random-operands.h'));
    const { uf2 } = buildRp2040Program(tmp.dir, join(projectRoot(), 'test', 'firmware', 'idiv', 'main.c'));
    const result = await (await Rp2040Emulator.load(uf2)).run({ maxSeconds: 60 });
    const values = new Map(
      result.output
        .split('\n')
        .filter((l) => /^\w+=\d+$/.test(l))
        .map((l) => l.split('=') as [string, string]),
    );
    expect(result.output).to.not.match(/mismatch a=/);
    expect(Number(values.get('mismatches'))).to.equal(0);
    expect(Number(values.get('checked'))).to.be.greaterThan(19_000);
    // the divider's 8 cycles, its operands and PRIMASK: about 20 (a call to divider.c's __aeabi_idiv, about 37)
    expect(Number(values.get('cycles_per_call_x100')) / 100).to.be.within(10, 28);
  });
});
