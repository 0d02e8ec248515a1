/**
 * The int8 dot product of every RP2040 matmul (firmware/rp2040/dot_q8.S) against plain C sums, in
 * rp2040js (test/firmware/dot-q8/main.c): every length from 0 to 80 (every n mod 4), rows back
 * to back and inside longer rows, random values and the largest sums. The TypeScript twin
 * (dotQ8Rows4) equals the portable C in test/codegen/builtins.spec.ts; the firmware tests check
 * whole generations against the engine.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { projectRoot } from '../../src/util/project-root.js';
import { tempDir } from '../helpers/fixtures.js';
import { buildRp2040Program } from '../helpers/rp2040-program.js';
import { needs } from '../helpers/needs.js';

describe('rp2040: the int8 dot product in ARMv6-M assembly equals the sums', function () {
  needs('arm-none-eabi-gcc', 'make');
  this.timeout(120_000);
  const tmp = tempDir('llama2-embed-dot-q8-');
  after(() => tmp.cleanup());

  it('for every length 0..80 and several row layouts, at about 5 cycles a product', async () => {
    const { uf2 } = buildRp2040Program(tmp.dir, join(projectRoot(), 'test', 'firmware', 'dot-q8', 'main.c'), [], ['dot_q8.S']);
    const result = await (await Rp2040Emulator.load(uf2)).run({ maxSeconds: 60 });
    const values = new Map(
      result.output
        .split('\n')
        .filter((l) => /^\w+=\d+$/.test(l))
        .map((l) => l.split('=') as [string, string]),
    );
    expect(result.output).to.not.match(/mismatch n=/);
    expect(Number(values.get('mismatches'))).to.equal(0);
    expect(Number(values.get('checked'))).to.equal(4 * 81 * 3 * 4);
    // 256 products: 78 cycles per 16 in the loop, plus the call's set-up and the stores
    expect(Number(values.get('cycles_per_call_64'))).to.be.within(1248, 1360);
  });
});
