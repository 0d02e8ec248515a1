/**
 * test/helpers/needs.ts and the root hooks, on a real mocha run of test/fixtures/needs/sample.ts
 * with socat hidden from the PATH: skipped with the reason and counted, or under CI=true failed.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../src/util/project-root.js';
import { tempDir } from '../helpers/fixtures.js';
import { isCI } from '../helpers/needs.js';

describe('test helpers: needs() and requireNeeds()', function () {
  this.timeout(60_000);
  const tmp = tempDir('llama2-embed-needs-');
  after(() => tmp.cleanup());
  const emptyPath = join(tmp.dir, 'bin');
  before(() => mkdirSync(emptyPath));

  const mochaRun = (ci: string) =>
    spawnSync(
      process.execPath,
      [
        join(projectRoot(), 'node_modules', 'mocha', 'bin', 'mocha.js'),
        join(projectRoot(), 'dist', 'test', 'fixtures', 'needs', 'sample.js'),
      ],
      {
        cwd: projectRoot(),
        encoding: 'utf8',
        env: { ...process.env, PATH: emptyPath, CI: ci },
      },
    );

  it('says before the run what is missing and how to install it', () => {
    const r = mochaRun('');
    const before = r.stdout.slice(0, r.stdout.indexOf('a describe that needs socat'));
    expect(before).to.contain('Missing here. The tests that need them will be skipped.');
    expect(before).to.match(/tools: .*socat.*; install them with:\n +sudo apt-get install --no-install-recommends .*socat/);
  });

  it('skips what needs a missing tool, with the reason, and counts every skipped test', () => {
    const r = mochaRun('');
    expect(r.status, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.match(/1 passing/);
    expect(r.stdout).to.match(/3 pending/);
    expect(r.stdout).to.contain(
      '3 tests skipped because something they need is missing (counted as pending below):\n' +
        '     3  socat is not installed (needed for the serial-port tests (pseudo-terminal pairs); Debian: apt-get install socat)',
    );
  });

  it('under CI=true fails them instead, saying what is missing', () => {
    const r = mochaRun('true');
    expect(r.status).to.not.equal(0);
    expect(r.stdout).to.contain('CI=true: the tests that need them will FAIL.');
    expect(r.stdout).to.match(/2 failing/); // the describe's before() hook and the test that asks itself
    expect(r.stdout).to.contain('Error: CI=true, and socat is not installed');
  });

  it('reads CI as CI services set it', () => {
    expect([undefined, '', 'false', '0', 'FALSE'].map((v) => isCI({ CI: v }))).to.deep.equal([false, false, false, false, false]);
    expect(['true', '1', 'yes'].map((v) => isCI({ CI: v }))).to.deep.equal([true, true, true]);
  });
});
