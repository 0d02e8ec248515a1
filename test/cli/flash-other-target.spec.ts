/**
 * `flash build/host` (issue 15.15): the message says which target the directory was built for
 * and what to do with it, not only that it has no firmware.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { build } from '../../src/toolchain/build.js';
import { cli, expectUserError } from '../helpers/cli.js';
import { stories260K, tempDir } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';

describe('flash: a build directory of another target', function () {
  needs('stories260K.bin', 'tok512.bin', 'cc', 'make');
  this.timeout(300_000);
  const tmp = tempDir('llama2-embed-flash-other-');
  after(() => tmp.cleanup());

  it('flash build/host: says it was built for "host", and how to run it', async () => {
    const out = join(tmp.dir, 'build', 'host');
    await build({ target: 'host', ...stories260K, quant: 'f32', out }, () => {});
    const message = expectUserError(cli(['flash', out]));
    expect(message).to.include(
      `${out} was built for target "host" (its build-info.json says so), not "rp2040": it has no firmware.uf2 or firmware.elf to flash.`,
    );
    expect(message).to.match(/It is a program for this computer: run it with llama2-embed run/);
    expect(message).to.match(/llama2-embed build --target rp2040/);
  });
});
