import { expect } from 'chai';
import type { Model } from '../../src/checkpoint/model.js';
import { readCheckpoint } from '../../src/checkpoint/read.js';
import { makePlan } from '../../src/plan/plan.js';
import { knownTargets, loadTarget, type Target } from '../../src/plan/target.js';
import { quantizeModel } from '../../src/quant/schemes.js';
import { blobBytesFor, schemeSizes, verdictText, weightBytesOf } from '../../src/report/sizes.js';
import { modelPath } from '../helpers/fixtures.js';

/** A board with `flash` bytes for the weights and `sram` bytes for the state. */
function board(flash: number, sram: number): Target {
  return {
    name: 'board',
    description: 'a test board',
    cpu: { arch: 'armv6m', cores: 1, fpu: false },
    memories: [
      { name: 'flash', kind: 'flash', bytes: flash },
      { name: 'sram', kind: 'sram', bytes: sram },
    ],
    placement: { weights: 'flash', state: 'sram' },
    toolchain: { cc: 'cc', cflags: [], ldflags: [] },
    output: 'firmware',
    threads: false,
  };
}

describe('report/sizes', () => {
  let fp32: Model;
  before(() => {
    fp32 = readCheckpoint(modelPath('stories260K.bin'));
  });

  it('weight bytes: fp32 is 4 bytes a parameter; Q8_0 one byte a value plus a scale per group', () => {
    expect(weightBytesOf(fp32)).to.equal(260_032 * 4);
    const q8 = quantizeModel(fp32, 'q8_0', { groupSize: 64 }).model;
    // 260,032 values (norms stay fp32: 5 × 2 × 64 + 64 of them), scales: a group per 64 values of each row (w2 rows: 3 groups)
    const norms = 5 * 2 * 64 + 64;
    const matrices = 260_032 - norms;
    const scales = (512 * 1 + 5 * (64 + 32 + 32 + 64 + 172 + 64 * 3 + 172)) * 4;
    expect(weightBytesOf(q8)).to.equal(norms * 4 + matrices + scales);
  });

  it('the Q4_0 blob: the Q8_0 plan laid out again with packed values; unchanged for Q8_0 itself', () => {
    const host = loadTarget('host');
    const q8 = quantizeModel(fp32, 'q8_0', { groupSize: 32 }).model;
    const plan = makePlan(host, fp32.config, { weights: 'q8_0', groupSize: 32, sharedClassifier: true });
    expect(blobBytesFor(plan, q8)).to.equal(plan.weightsBytes);
    const q4 = quantizeModel(fp32, 'q4_0', { groupSize: 32 }).model;
    const saved = plan.weightsBytes - blobBytesFor(plan, q4);
    // half of the int8 values, give or take the alignment of each buffer to 64 bytes
    const int8Values = 260_032 - (5 * 2 * 64 + 64);
    expect(saved).to.be.within(int8Values / 2 - 10 * 64, int8Values / 2 + 10 * 64);
  });

  it('has a verdict for every known target', () => {
    const sizes = schemeSizes(fp32, 'f32', undefined, knownTargets().map(loadTarget));
    expect(sizes.targets.map((t) => t.target)).to.deep.equal(knownTargets());
    const host = sizes.targets.find((t) => t.target === 'host')!;
    expect(host).to.include({ capacity: null, fits: true, spare: null, includesState: true, estimated: false, state: null });
    expect(host.verdict).to.match(/^fits host with no fixed limit \(weights and run state: 1\.7 MiB of ram\)$/);
  });

  it('on a board: fits with room to spare, or does not fit, and checks the state memory apart', () => {
    const q4 = quantizeModel(fp32, 'q4_0');
    const roomy = schemeSizes(q4.model, 'q4_0', q4.groupSize, [board(2 * 1024 * 1024, 1024 * 1024)]).targets[0];
    expect(roomy).to.include({ fits: true, includesState: false, estimated: true, memory: 'flash' });
    expect(roomy.spare).to.equal(2 * 1024 * 1024 - roomy.needed);
    expect(roomy.verdict).to.match(/^fits board flash with 1\.\d MiB to spare \(weights: 1\d\d\.\d KiB of 2\.0 MiB\)$/);
    expect(roomy.state).to.include({ memory: 'sram', fits: true });

    const tight = schemeSizes(fp32, 'f32', undefined, [board(512 * 1024, 64 * 1024)]).targets[0];
    expect(tight).to.include({ fits: false, spare: null, estimated: false });
    expect(tight.verdict).to.match(/^does not fit board flash: needs 1\.0 MiB \(weights\), has 512\.0 KiB$/);
    expect(tight.state).to.include({ memory: 'sram', fits: false, capacity: 64 * 1024 });
  });

  it('verdictText', () => {
    expect(verdictText('rp2040', 'flash', 2 * 1024 * 1024, 300 * 1024, false)).to.equal('fits rp2040 flash with 1.7 MiB to spare (weights: 300.0 KiB of 2.0 MiB)');
    expect(verdictText('rp2040', 'flash', 1024 * 1024, 2 * 1024 * 1024, false)).to.equal('does not fit rp2040 flash: needs 2.0 MiB (weights), has 1.0 MiB');
    expect(verdictText('host', 'ram', null, 1024, true)).to.equal('fits host with no fixed limit (weights and run state: 1.0 KiB of ram)');
  });
});
