/**
 * A finite but huge weight (issue 20.10): the file is well-formed and run.c runs it, but float32
 * overflows in the forward pass and only <unk> comes out. inspect and generate say so.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli } from '../helpers/cli.js';
import { modelPath, tempDir } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';
import { readCheckpoint } from '../../src/checkpoint/read.js';
import { largestWeight } from '../../src/quant/weight-range.js';

describe('cli: huge weights are warned about', function () {
  needs('stories260K.bin', 'tok512.bin');
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => void;
  let damaged: string;
  before(() => {
    ({ dir, cleanup } = tempDir());
    // a v0 file: 28-byte header, then token_embedding (512 × 64 floats); put 3e38 in its row 7
    const bytes = readFileSync(modelPath('stories260K.bin'));
    bytes.writeFloatLE(3e38, 28 + 4 * (7 * 64 + 5));
    damaged = join(dir, 'stories260K-huge.bin');
    writeFileSync(damaged, bytes);
  });
  after(() => cleanup());

  it('finds the largest weight where the forward pass sees it', () => {
    const largest = largestWeight(readCheckpoint(damaged));
    expect(largest).to.deep.equal({ tensor: 'token_embedding', index: 7 * 64 + 5, value: Math.fround(3e38) });
    expect(largestWeight(readCheckpoint(modelPath('stories260K.bin'))).tensor).to.equal('rms_final');
  });

  it('inspect shows the largest weight and warns, on a healthy model it does not', () => {
    const bad = cli(['inspect', damaged]);
    expect(bad.status, bad.stderr).to.equal(0);
    expect(bad.stdout).to.match(/^largest weight +3\.00e\+38 in token_embedding$/m);
    expect(bad.stderr).to.match(
      /^warning: .*stories260K-huge\.bin: tensor token_embedding holds 3\.00e\+38 \(value 453\).*overflow float32/m,
    );
    const good = cli(['inspect', modelPath('stories260K.bin')]);
    expect(good.stdout).to.match(/^largest weight +4\.43 in rms_final$/m);
    expect(good.stderr).to.equal('');
  });

  it('generate warns before it starts, and at the first position whose logits are not finite', () => {
    const result = cli(['generate', '-m', damaged, '-z', modelPath('tok512.bin'), '-i', 'Once', '-n', '6', '-t', '0', '--format', 'ids']);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stderr).to.match(/^warning: .*tensor token_embedding holds 3\.00e\+38/m);
    // the shared classifier multiplies every position's activations by row 7: the logits overflow from position 0
    expect(result.stderr).to.match(/^warning: the logits at position 0 are not finite/m);
    const healthy = cli([
      'generate',
      '-m',
      modelPath('stories260K.bin'),
      '-z',
      modelPath('tok512.bin'),
      '-i',
      'Once',
      '-n',
      '6',
      '-t',
      '0',
      '--format',
      'ids',
    ]);
    expect(healthy.stderr).to.not.match(/warning/);
  });
});
