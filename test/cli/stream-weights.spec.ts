/** `--stream-weights` (RP2040, integer mode) is refused where it cannot apply, before any work, like every option of build and plan. */
import { expect } from 'chai';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, expectUserError } from '../helpers/cli.js';

describe('cli: build and plan --stream-weights', function () {
  let dir: string;
  // the model is found nowhere: had the command gone on, that would be the complaint
  const env = { LLAMA2_EMBED_MODELS: '/nonexistent', LLAMA2_EMBED_CACHE: '/nonexistent-cache' };
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'l2e-stream-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (const [why, args, message] of [
    [
      'a target without an XIP stream',
      ['--target', 'host'],
      /--stream-weights streams the weights from the RP2040's flash.*target host has none/,
    ],
    [
      'float arithmetic',
      ['--target', 'rp2040', '--arithmetic', 'float'],
      /--stream-weights streams the integer kernels' Q8_0 or Q4_0 matrices.*--arithmetic float/,
    ],
    [
      'mixed weights',
      ['--target', 'rp2040', '--quant', 'mixed'],
      /--stream-weights streams Q8_0 or Q4_0 matrices, and --quant mixed was given \(a stream of mixed weights is not built\)/,
    ],
    [
      'float32 weights',
      ['--target', 'rp2040', '--quant', 'f32'],
      /--stream-weights streams Q8_0 or Q4_0 matrices, and --quant f32 was given \(a stream of float32 weights is not built\)/,
    ],
  ] as const) {
    for (const command of ['build', 'plan']) {
      it(`${command} --stream-weights with ${why} is refused before the model is looked up`, () => {
        const stderr = expectUserError(
          cli([command, ...args, '-m', 'missing.bin', '--stream-weights', ...(command === 'build' ? ['-o', 'out'] : [])], {
            cwd: dir,
            env,
            timeout: 30_000,
          }),
          2,
        );
        expect(stderr).to.match(message);
        expect(stderr).to.not.match(/missing\.bin|at \w+ \(/); // no model lookup, no stack trace
        expect(readdirSync(dir)).to.deep.equal([]);
      });
    }
  }
});
