/**
 * `llama2-embed doctor`: what this machine has, what is missing and the commands that get it; and
 * that its tool list and .ci/run's Debian packages are the same list.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { doctorReport } from '../../src/cli/doctor.js';
import { MODEL_FILES, TOOLS, debianPackages, findTool, nodeIsRecentEnough, pullCommands } from '../../src/doctor/requirements.js';
import { projectRoot } from '../../src/util/project-root.js';
import { tempDir } from '../helpers/fixtures.js';

describe('doctor', function () {
  this.timeout(60_000);
  const tmp = tempDir('llama2-embed-doctor-');
  after(() => tmp.cleanup());
  const emptyModels = join(tmp.dir, 'models');
  const emptyCache = join(tmp.dir, 'cache');
  const bin = join(tmp.dir, 'bin');
  before(() => {
    for (const dir of [emptyModels, emptyCache, bin]) mkdirSync(dir);
  });

  /** Runs the real command line with this PATH and empty model directories. */
  const doctor = (path: string) =>
    spawnSync(process.execPath, [join(projectRoot(), 'bin', 'llama2-embed.js'), 'doctor'], {
      encoding: 'utf8',
      cwd: tmp.dir,
      env: { ...process.env, PATH: path, LLAMA2_EMBED_MODELS: emptyModels, LLAMA2_EMBED_CACHE: emptyCache, CI: '' },
    });

  it('lists a tool hidden from the PATH as missing, with the apt-get line for it alone, and exits 1', () => {
    // a PATH with every tool this machine has, but socat
    const present = TOOLS.filter((t) => t.name !== 'socat').map((t) => ({ tool: t, path: findTool(t) }));
    for (const { tool, path } of present) if (path) symlinkSync(path, join(bin, tool.name));
    const r = doctor(bin);
    expect(r.status, r.stderr).to.equal(1);
    expect(r.stdout).to.match(/^ {2}MISSING +socat +Debian: socat +the serial-port tests/m);
    const expectedMissing = ['socat', ...present.filter((p) => !p.path).map((p) => p.tool.name)];
    for (const { tool, path } of present) {
      if (path) expect(r.stdout, tool.name).to.match(new RegExp(`^  ok +${tool.name} `, 'm'));
    }
    const packages = debianPackages(TOOLS.filter((t) => expectedMissing.includes(t.name)));
    expect(r.stdout).to.contain(
      `To install the missing tools (Debian/Ubuntu):\n  sudo apt-get install --no-install-recommends ${packages.join(' ')}\n`,
    );
    expect(r.stderr).to.match(/^llama2-embed: doctor: \d+ missing \(listed above, with the commands that install them\)\.\n$/);
    expect(r.stderr).to.not.match(/^\s+at /m);
  });

  it('says where it looked for the models, and where it found each (or that it did not)', () => {
    const r = doctor(bin);
    expect(r.stdout).to.contain(`then the model cache ${emptyCache}`);
    for (const name of MODEL_FILES)
      expect(r.stdout).to.match(
        new RegExp(`^  (ok +${name.replace('.', '\\.')} +/|MISSING +${name.replace('.', '\\.')} +not found$)`, 'm'),
      );
  });

  it('with every model missing: the pull commands that get them, each model once', () => {
    const report = doctorReport({ env: { PATH: '' }, findModel: () => undefined });
    expect(report.text).to.match(/^ {2}MISSING +stories260K\.bin +not found$/m);
    expect(report.text).to.match(/^ {2}MISSING +tokenizer\.bin +not found$/m);
    expect(report.text).to.match(/^To get the missing models.*:\n {2}llama2-embed pull stories260K\n {2}llama2-embed pull stories15M\n/m);
    // (sshd and udevadm are also looked for in /usr/sbin and /usr/bin, whatever the PATH)
    expect(report.missing).to.equal(MODEL_FILES.length + TOOLS.filter((t) => !findTool(t, { PATH: '' })).length);
  });

  it('with everything here: nothing to install, exit status 0', () => {
    const everything = join(tmp.dir, 'everything');
    mkdirSync(everything);
    for (const t of TOOLS) symlinkSync(process.execPath, join(everything, t.name)); // any executable will do
    const report = doctorReport({ env: { PATH: everything }, findModel: (name) => `/models/${name}` });
    expect(report.missing).to.equal(0);
    expect(report.text).to.not.contain('apt-get');
    expect(report.text).to.contain('Everything is here');
  });

  it("checks the Node.js version against package.json's engines", () => {
    const engines = JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')).engines.node as string;
    expect(engines).to.equal('>=20.19');
    expect(['v20.19.0', 'v20.20.2', 'v22.1.0'].map(nodeIsRecentEnough)).to.deep.equal([true, true, true]);
    expect(['v20.18.3', 'v18.20.0'].map(nodeIsRecentEnough)).to.deep.equal([false, false]);
    const old = doctorReport({ nodeVersion: 'v18.20.0', findModel: (name) => name });
    expect(old.text).to.match(/^Node\.js v18\.20\.0: too old, llama2-embed needs 20\.19\.0 or newer/m);
  });

  it('maps model files to the pull command of the model they come with', () => {
    expect(pullCommands(['tok512.bin', 'stories260K.bin'])).to.deep.equal(['llama2-embed pull stories260K']);
    expect(pullCommands(['tokenizer.bin'], 'npm start --')).to.deep.equal(['npm start -- pull stories15M']);
  });

  it('.ci/run installs exactly the Debian packages doctor knows', () => {
    const script = readFileSync(join(projectRoot(), '.ci', 'run'), 'utf8');
    const list = /^APT_PACKAGES=\(([^)]*)\)/m.exec(script);
    expect(list, '.ci/run has no APT_PACKAGES=(...) line').to.not.equal(null);
    expect(list![1].trim().split(/\s+/).sort()).to.deep.equal(debianPackages().sort());
  });
});
