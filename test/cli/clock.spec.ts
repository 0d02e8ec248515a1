/** `--clock` (RP2040 clk_sys in MHz) is checked before any work, like every option of build and plan. */
import { expect } from 'chai';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, expectUserError } from '../helpers/cli.js';

describe('cli: build and plan --clock', function () {
  let dir: string;
  // the model is found nowhere: had the command gone on, that would be the complaint
  const env = { LLAMA2_EMBED_MODELS: '/nonexistent', LLAMA2_EMBED_CACHE: '/nonexistent-cache' };
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'l2e-clock-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (const command of ['build', 'plan']) {
    for (const clock of ['250', '124', '133.5']) {
      it(`${command} --clock ${clock} is refused with the allowed range, before the model is looked up`, () => {
        const stderr = expectUserError(
          cli([command, '--target', 'rp2040', '-m', 'missing.bin', '--clock', clock, ...(command === 'build' ? ['-o', 'out'] : [])], {
            cwd: dir,
            env,
            timeout: 30_000,
          }),
          2,
        );
        expect(stderr).to.match(/--clock must be a whole number of MHz from 125 to 200/);
        expect(stderr).to.not.match(/missing\.bin|at \w+ \(/); // no model lookup, no stack trace
        expect(readdirSync(dir)).to.deep.equal([]);
      });
    }
  }

  it('build --clock on a target other than the RP2040 says it does not apply', () => {
    const stderr = expectUserError(
      cli(['build', '--target', 'host', '-m', 'missing.bin', '--clock', '200', '-o', 'out'], { cwd: dir, env, timeout: 30_000 }),
      2,
    );
    expect(stderr).to.match(/--clock applies to rp2040 builds/);
  });
});
