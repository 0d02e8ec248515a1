import { expect } from 'chai';
import { join } from 'node:path';
import { writeCheckpoint } from '../../src/checkpoint/write.js';
import { quantizeModel } from '../../src/quant/schemes.js';
import { cli, expectUserError } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';
import { randomModel, STORIES15M } from '../helpers/random-model.js';
import { needs } from '../helpers/needs.js';

describe('cli: plan and build against a board', function () {
  needs('stories260K.bin', 'tok512.bin');
  this.timeout(120_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('prints the plan of stories260K for the Pico: Q8_0 and integer kernels, the whole context in SRAM', () => {
    const r = cli(['plan', '--target', 'rp2040']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).not.to.match(/does not fit/);
    expect(r.stdout).to.match(/^Memory plan for rp2040: .*Q8_0/m);
    expect(r.stdout).to.match(/key_cache +sram \(state\) +81,920 .*int8/);
  });

  it('prints the plan of stories260K for the Pico with float kernels, with the context fitted to its SRAM', () => {
    const r = cli(['plan', '--target', 'rp2040', '--quant', 'q8_0', '--arithmetic', 'float']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/seq_len 512 does not fit rp2040; using --seq-len \d+/);
    expect(r.stdout).to.match(/^Memory plan for rp2040: .*Q8_0/m);
    expect(r.stdout).to.match(/key_cache +sram \(state\)/);
    expect(r.stdout).to.match(/flash \(flash\): .* of 1\.9 MiB/);
  });

  it("counts the tokenizer --embed-tokenizer compiles in: its tables in flash, the prompt's encoding in SRAM", () => {
    const r = cli(['plan', '--target', 'rp2040', '--embed-tokenizer', '-i', 'Once upon a time']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/tokenizer_tables +flash \(tables\) +7,760 .*tokenizer \(512 tokens\)/);
    // the merge buffer (2 × 7 + 4 bytes) and the 16-byte prompt's ids (16 + 3)
    expect(r.stdout).to.match(/tokenizer_scratch +sram \(state\) +94 /);
    const without = cli(['plan', '--target', 'rp2040']);
    expect(without.stdout).not.to.match(/tokenizer/);
  });

  it('refuses stories15M on the Pico before writing any C, saying why and what to do', () => {
    const checkpoint = join(tmp.dir, 'stories15M-shaped.bin');
    writeCheckpoint(checkpoint, quantizeModel(randomModel(STORIES15M, 2), 'q4_0', { groupSize: 32 }).model, 'own');
    const out = join(tmp.dir, 'out');
    const message = expectUserError(cli(['build', '--target', 'rp2040', '-m', checkpoint, '-z', 'tokenizer.bin', '-o', out]));
    expect(message).to.match(/the model does not fit rp2040/);
    // Q4_0 in the integer kernels (the Pico's default arithmetic): 8.2 MiB, and the classifier in blocks, so that
    // a shorter context fits the SRAM
    expect(message).to.match(
      /flash \(flash\): the plan needs 8\.2 MiB but rp2040 has 1\.9 MiB.*a board with 16 MB of flash \(--flash-size 16M\)/,
    );
    expect(message).to.match(/sram \(sram\): .*What would fit: --seq-len \d\d /);
    expect(message).to.match(/a Raspberry Pi runs the models that a microcontroller cannot/);
  });

  it('takes --threads 2 on the Pico (its second core) and refuses more', () => {
    expect(expectUserError(cli(['build', '--target', 'rp2040', '--threads', '3', '-o', join(tmp.dir, 'three')]), 2)).to.match(
      /rp2040 has 2 cores; use --threads 2 or less/,
    );
  });

  it('copies weights into the SRAM a shorter context leaves, unless told --no-sram-weights', () => {
    const copied = cli(['plan', '--target', 'rp2040', '--seq-len', '256']);
    expect(copied.status, copied.stderr).to.equal(0);
    expect(copied.stdout).to.match(/w1_sram +sram \(state\) +55,040 .* w1 copied to SRAM at boot/);
    const kept = cli(['plan', '--target', 'rp2040', '--seq-len', '256', '--no-sram-weights']);
    expect(kept.status, kept.stderr).to.equal(0);
    expect(kept.stdout).to.match(/^ +w1 +flash \(weights\)/m);
    expect(kept.stdout).not.to.match(/_sram /);
    // the forward pass's code: measured by build, said by plan
    expect(copied.stdout).to.match(
      /build also runs forward\.o, forward_parallel\.o, dot_q8\.o, dot_q4\.o, divider\.o from SRAM when it fits/,
    );
    expect(cli(['plan', '--target', 'rp2040', '--no-sram-code']).stdout).not.to.match(/build also runs/);
  });

  it('takes a bigger flash with --flash-size', () => {
    const r = cli(['plan', '--target', 'rp2040', '--quant', 'f32', '--flash-size', '16M']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/flash \(flash\): [\d.]+ KiB of 15\.9 MiB/);
    expect(expectUserError(cli(['plan', '--target', 'rp2040', '--flash-size', '3X']), 2)).to.match(
      /--flash-size must be a size such as 2M/,
    );
    expect(expectUserError(cli(['plan', '--target', 'host', '--flash-size', '4M']), 2)).to.match(/apply to microcontroller targets/);
  });
});
