import { expect } from 'chai';
import { makePlan } from '../../src/plan/plan.js';
import { loadTarget } from '../../src/plan/target.js';

// stories260K's shapes.
const STORIES260K = { dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512 };

describe('targets/rp2040.json', () => {
  const target = loadTarget('rp2040');

  it('gives the model what the firmware leaves of the flash and the SRAM', () => {
    const spec = target.firmware!;
    const flash = target.memories.find((m) => m.name === target.placement.weights)!;
    const sram = target.memories.find((m) => m.name === target.placement.state)!;
    expect(flash).to.include({ kind: 'flash', address: 0x10000000, bytes: spec.flashBytes - spec.boot2Bytes - spec.codeReserveBytes });
    expect(sram).to.include({ kind: 'sram', address: 0x20000000, bytes: spec.ramBytes - spec.stackBytes - spec.ramReserveBytes });
    expect(spec).to.include({ chip: 'rp2040', flashBytes: 2 * 1024 * 1024, boot2Bytes: 256, ramBytes: 264 * 1024, clockHz: 133_000_000 });
    expect(target.output).to.equal('firmware');
    expect(target.threads).to.equal(false);
    expect(target.toolchain.cc).to.equal('arm-none-eabi-gcc');
    expect(target.toolchain.cflags).to.include.members(['-mcpu=cortex-m0plus', '-mthumb', '-ffp-contract=off', '-fno-fast-math']);
  });

  it('plans stories260K: int8 weights fit the flash; the full-context KV cache does not fit the SRAM, and the plan says so', () => {
    const plan = makePlan(target, STORIES260K, { weights: 'q8_0', groupSize: 32, sharedClassifier: true });
    const flash = plan.memories.find((m) => m.memory.name === 'flash')!;
    expect(flash.used).to.be.below(flash.memory.bytes!);
    expect(plan.fits).to.equal(false);
    expect(plan.problems.join('\n')).to.match(/sram \(sram\).*--seq-len/);
    const short = makePlan(target, STORIES260K, { weights: 'q8_0', groupSize: 32, sharedClassifier: true, seqLen: 128 });
    expect(short.fits, short.problems.join('\n')).to.equal(true);
  });

  it('leaves the host target as it was', () => {
    const host = loadTarget('host');
    expect(host.firmware).to.equal(undefined);
    expect(host.output).to.equal('executable');
  });
});
