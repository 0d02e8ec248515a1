/** The plan set beside the linker's sections (src/toolchain/sections.ts), without compiling: section maps as `size -A` gives them. */
import { expect } from 'chai';
import { makePlan } from '../../src/plan/plan.js';
import { loadTarget } from '../../src/plan/target.js';
import { comparePlanWithSections } from '../../src/toolchain/sections.js';

const stories260K = { dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512 };
const options = { weights: 'q8_0' as const, groupSize: 64, sharedClassifier: true, arithmetic: 'integer' as const };

describe('toolchain/sections: the plan against the linker', () => {
  const plan = makePlan(loadTarget('rp2040'), stories260K, { ...options, sramCode: { bytes: 18_000, description: 'code' } });
  const sections = (sramText: number) =>
    new Map([
      ['.text', { bytes: 20_000, address: 0x10000100 }],
      ['.model_weights', { bytes: plan.weightsBytes, address: 0x10005000 }],
      ['.sram_text', { bytes: sramText, address: 0x20000100 }],
      ['.bss', { bytes: plan.stateBytes, address: 0x20004800 }],
    ]);

  it('shows the code run from SRAM, planned and linked', () => {
    expect(comparePlanWithSections(plan, sections(17_600), 'fw.elf', 4096)).to.match(
      /code run from SRAM \(\.sram_text\) +17\.6 KiB +17\.2 KiB/,
    );
  });

  it('fails when the linker put more code in SRAM than the plan measured', () => {
    expect(() => comparePlanWithSections(plan, sections(18_001), 'fw.elf', 4096)).to.throw(
      /fw\.elf: \.sram_text holds 18001 bytes, more than the 18000 bytes the plan measured for it/,
    );
  });

  it('has no such row for a plan without code in SRAM', () => {
    const flashOnly = makePlan(loadTarget('rp2040'), stories260K, options);
    expect(comparePlanWithSections(flashOnly, sections(0), 'fw.elf', 4096)).to.not.match(/code run from SRAM/);
  });
});
