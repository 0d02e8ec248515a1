/**
 * `monitor --log PATH` is checked before any port is opened (issue 20.8): a directory, or a file
 * in a directory that does not exist, is a clear usage error (exit 2), not an internal one.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { cli, expectUserError } from '../helpers/cli.js';
import { tempDir } from '../helpers/fixtures.js';

describe('cli: monitor --log', () => {
  const tmp = tempDir('llama2-embed-monitor-log-');
  after(() => tmp.cleanup());
  const port = () => join(tmp.dir, 'ttyNOPE'); // never reached: --log is checked first

  it('a directory: says so and what to give, before opening the port', () => {
    const message = expectUserError(cli(['monitor', '--port', port(), '--log', tmp.dir]), 2);
    expect(message).to.match(/^llama2-embed: --log .* is a directory; give a file name/m);
    expect(message).to.not.match(/ttyNOPE/);
  });

  it('a file in a directory that does not exist: names the directory', () => {
    const message = expectUserError(cli(['monitor', '--port', port(), '--log', join(tmp.dir, 'missing', 'dir', 'f')]), 2);
    expect(message).to.match(/--log .*missing\/dir\/f: the directory .*missing\/dir does not exist; create it first, or write elsewhere\./);
  });
});
