import { expect } from 'chai';
import type { Model } from '../../src/checkpoint/model.js';
import { readCheckpoint } from '../../src/checkpoint/read.js';
import { makePlan, type Plan } from '../../src/plan/plan.js';
import { knownTargets, loadTarget, type Target } from '../../src/plan/target.js';
import { quantizeModel, QUANT_SCHEMES } from '../../src/quant/schemes.js';
import { schemeSizes, verdictText, weightBytesOf } from '../../src/report/sizes.js';
import { modelPath } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';
import { randomModel } from '../helpers/random-model.js';

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
  needs('stories260K.bin');
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

  it("the blob and each verdict's bytes are makePlan's, for every scheme", () => {
    const targets = [...knownTargets().map(loadTarget), board(2 * 1024 * 1024, 1024 * 1024)];
    for (const scheme of QUANT_SCHEMES) {
      const q = scheme === 'f32' ? { model: fp32, groupSize: undefined } : quantizeModel(fp32, scheme);
      const sizes = schemeSizes(q.model, scheme, q.groupSize, targets);
      expect(sizes.targets).to.have.length(targets.length);
      for (const [i, target] of targets.entries()) {
        // the blob: the float kernels' plan; each target: planned as build plans it (rp2040: integer kernels for Q8_0)
        const float = makePlan(target, fp32.config, { weights: scheme, groupSize: q.groupSize, sharedClassifier: true });
        expect(sizes.blobBytes, `${scheme} blob`).to.equal(float.weightsBytes);
        const arithmetic = scheme === 'q8_0' && target.defaults?.arithmetic === 'integer' ? 'integer' : 'float';
        const plan = makePlan(target, fp32.config, { weights: scheme, groupSize: q.groupSize, sharedClassifier: true, arithmetic });
        const weights = plan.memories.find((m) => m.memory.name === target.placement.weights)!;
        expect(sizes.targets[i].needed, `${scheme} on ${target.name}`).to.equal(weights.used);
        if (sizes.targets[i].state) {
          const state = plan.memories.find((m) => m.memory.name === target.placement.state)!;
          expect(sizes.targets[i].state!.needed, `${scheme} state on ${target.name}`).to.equal(state.used);
        }
      }
      // with no target, the blob is still the plan's
      expect(schemeSizes(q.model, scheme, q.groupSize, []).blobBytes, `${scheme} without targets`).to.equal(sizes.blobBytes);
    }
  });

  it('plans Q4_0 for the RP2040 with the integer kernels, as build does, where their row-pair matmul takes the shapes', () => {
    const rp2040 = loadTarget('rp2040');
    const even = randomModel({ dim: 64, hiddenDim: 192, nLayers: 2, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 64 }, 5, {
      sharedClassifier: true,
    });
    const q4 = quantizeModel(even, 'q4_0', { groupSize: 32 });
    const state = (arithmetic: 'float' | 'integer') => {
      const plan = makePlan(rp2040, even.config, { weights: 'q4_0', groupSize: 32, sharedClassifier: true, arithmetic });
      return plan.memories.find((m) => m.memory.name === rp2040.placement.state)!.used;
    };
    expect(state('integer')).to.not.equal(state('float')); // an int8 KV cache against a float one
    expect(schemeSizes(q4.model, 'q4_0', 32, [rp2040]).targets[0].state!.needed).to.equal(state('integer'));
  });

  it('a Q4_0 blob is smaller than the Q8_0 one by the packed values: half a byte a value', () => {
    const host = loadTarget('host');
    const sizesOf = (scheme: 'q8_0' | 'q4_0') =>
      schemeSizes(quantizeModel(fp32, scheme, { groupSize: 32 }).model, scheme, 32, [host]).blobBytes;
    const plan = (scheme: 'q8_0' | 'q4_0'): Plan => makePlan(host, fp32.config, { weights: scheme, groupSize: 32, sharedClassifier: true });
    const int8Values = 260_032 - (5 * 2 * 64 + 64);
    // every packed buffer of stories260K is a multiple of 64 bytes, so the alignment takes nothing back
    expect(sizesOf('q8_0') - sizesOf('q4_0')).to.equal(int8Values / 2);
    // and it is exactly the values' buffers that shrink: the scales, norms and RoPE tables are the same
    const q8 = plan('q8_0');
    const q4 = plan('q4_0');
    expect(q4.buffers.filter((b) => b.role === 'weights').map((b) => b.name)).to.deep.equal(
      q8.buffers.filter((b) => b.role === 'weights').map((b) => b.name),
    );
    let packed = 0;
    for (const b of q8.buffers.filter((x) => x.role === 'weights')) {
      const other = q4.buffers.find((x) => x.name === b.name)!;
      if (b.element === 'i8') {
        expect(other, b.name).to.include({ element: 'u8', matrix: 'q4_0', bytes: b.bytes / 2 });
        packed += b.bytes - other.bytes;
      } else {
        expect(other.bytes, b.name).to.equal(b.bytes);
      }
    }
    expect(packed).to.equal(int8Values / 2);
    expect(q8.weightsBytes - q4.weightsBytes).to.equal(packed);
  });

  it('has a verdict for every known target', () => {
    const sizes = schemeSizes(fp32, 'f32', undefined, knownTargets().map(loadTarget));
    expect(sizes.targets.map((t) => t.target)).to.deep.equal(knownTargets());
    const host = sizes.targets.find((t) => t.target === 'host')!;
    expect(host).to.include({ capacity: null, fits: true, spare: null, includesState: true, state: null });
    expect(host).to.not.have.property('estimated');
    expect(host.verdict).to.match(/^fits host with no fixed limit \(weights and run state: 1\.7 MiB of ram\)$/);
  });

  it('on a board: fits with room to spare, or does not fit, and checks the state memory apart', () => {
    const q4 = quantizeModel(fp32, 'q4_0');
    const roomy = schemeSizes(q4.model, 'q4_0', q4.groupSize, [board(2 * 1024 * 1024, 1024 * 1024)]).targets[0];
    expect(roomy).to.include({ fits: true, includesState: false, memory: 'flash' });
    expect(roomy).to.not.have.property('estimated');
    expect(roomy.spare).to.equal(2 * 1024 * 1024 - roomy.needed);
    expect(roomy.verdict).to.match(/^fits board flash with 1\.\d MiB to spare \(weights: 1\d\d\.\d KiB of 2\.0 MiB\)$/);
    expect(roomy.state).to.include({ memory: 'sram', fits: true });

    const tight = schemeSizes(fp32, 'f32', undefined, [board(512 * 1024, 64 * 1024)]).targets[0];
    expect(tight).to.include({ fits: false, spare: null });
    expect(tight.verdict).to.match(/^does not fit board flash: needs 1\.0 MiB \(weights\), has 512\.0 KiB$/);
    expect(tight.state).to.include({ memory: 'sram', fits: false, capacity: 64 * 1024 });
  });

  it('verdictText', () => {
    expect(verdictText('rp2040', 'flash', 2 * 1024 * 1024, 300 * 1024, false)).to.equal(
      'fits rp2040 flash with 1.7 MiB to spare (weights: 300.0 KiB of 2.0 MiB)',
    );
    expect(verdictText('rp2040', 'flash', 1024 * 1024, 2 * 1024 * 1024, false)).to.equal(
      'does not fit rp2040 flash: needs 2.0 MiB (weights), has 1.0 MiB',
    );
    expect(verdictText('host', 'ram', null, 1024, true)).to.equal('fits host with no fixed limit (weights and run state: 1.0 KiB of ram)');
  });
});
