import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIRMWARE_OUTPUTS } from '../../src/codegen/firmware.js';
import { BUILD_INFO } from '../../src/toolchain/build-info.js';
import { deployToBoard } from '../../src/pico/deploy.js';
import { findExecutable } from '../../src/pico/external-tool.js';
import { BUILD_INFO_FILE, FIRMWARE_FILE_NAMES, locateFirmware } from '../../src/firmware-image/firmware-file.js';
import { openocdArgs, tclQuote } from '../../src/pico/openocd.js';
import { loadSerialPorts, PortOpenError, processesHolding } from '../../src/pico/touch1200.js';
import { UserError } from '../../src/util/errors.js';
import { elfFile, tempDir, uf2File } from './deploy-fixtures.js';
import { requireNeeds } from '../helpers/needs.js';

async function userError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(err, String((err as Error).stack)).to.be.instanceOf(UserError);
    return (err as Error).message;
  }
  expect.fail('expected a UserError');
}

/** A fake tool: records its arguments, one per line, in argv.txt beside it, prints `output`, exits with `status`. */
function fakeTool(dir: string, name: string, output: string, status = 0): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > "\${0%/*}/${name}.argv"\nprintf '%b' '${output.replace(/\n/g, '\\n').replace(/\r/g, '\\r')}'\nexit ${status}\n`,
  );
  chmodSync(path, 0o755);
  return path;
}

function recordedArgs(dir: string, name: string): string[] {
  return readFileSync(join(dir, `${name}.argv`), 'utf8')
    .split('\n')
    .slice(0, -1);
}

/** Runs `body` with PATH set to `path` only. */
async function withPath<T>(path: string, body: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = path;
  try {
    return await body();
  } finally {
    process.env.PATH = saved;
  }
}

/** A build directory as `build --target rp2040` leaves it: firmware.uf2, firmware.elf, build-info.json. */
function buildDir(root: string, target = 'rp2040'): string {
  const dir = join(root, 'build', target);
  mkdirSync(dir, { recursive: true });
  uf2File(dir);
  elfFile(join(dir, 'firmware.elf'));
  writeFileSync(join(dir, 'build-info.json'), JSON.stringify({ target, executable: join(dir, 'firmware.elf') }));
  return dir;
}

describe('flash/deploy: picotool and openocd', () => {
  let dir: string;
  let bin: string;
  let lines: string[];
  const report = (line: string) => lines.push(line);
  beforeEach(() => {
    dir = tempDir();
    bin = join(dir, 'bin');
    mkdirSync(bin);
    lines = [];
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('says how to install picotool when it is not on the PATH', async () => {
    const build = buildDir(dir);
    const message = await withPath(bin, () => userError(deployToBoard({ firmware: build, method: 'picotool', target: 'rp2040', report })));
    expect(message).to.match(/^--method picotool needs picotool, which is not on your PATH\. Install it/);
    expect(message).to.include('apt install picotool');
    expect(message).to.include('brew install picotool');
    expect(message).to.include('leave out --method');
  });

  it('runs picotool load -x <uf2> -f and passes its output on', async () => {
    const build = buildDir(dir);
    fakeTool(
      bin,
      'picotool',
      'Loading into Flash: [====      ]  40%\rLoading into Flash: [==========]  100%\n\nThe device was rebooted to start the application.\n',
    );
    await withPath(bin, () => deployToBoard({ firmware: build, method: 'picotool', target: 'rp2040', report }));
    expect(recordedArgs(bin, 'picotool')).to.deep.equal(['load', '-x', join(build, 'firmware.uf2'), '-f']);
    expect(lines).to.include('  picotool: Loading into Flash: [==========]  100%');
    expect(lines).to.include('  picotool: The device was rebooted to start the application.');
    expect(lines.join('\n')).to.not.include('40%'); // a progress bar is shown at its final state
  });

  it('explains picotool finding no Pico, and checks the UF2 before calling it', async () => {
    const build = buildDir(dir);
    fakeTool(bin, 'picotool', 'No accessible RP-series devices in BOOTSEL mode were found.\n', 249);
    const message = await withPath(bin, () => userError(deployToBoard({ firmware: build, method: 'picotool', target: 'rp2040', report })));
    expect(message).to.match(
      /^picotool failed \(exit code 249\); its output is above\. picotool found no Pico in BOOTSEL mode\. Hold BOOTSEL/,
    );
    const wrong = join(dir, 'pico2');
    mkdirSync(wrong);
    const { path } = uf2File(wrong, { familyId: 0xe48bff59 });
    rmSync(join(bin, 'picotool.argv'));
    expect(
      await withPath(bin, () => userError(deployToBoard({ firmware: path, method: 'picotool', target: 'rp2040', report }))),
    ).to.include('not for the RP2040');
    expect(existsSync(join(bin, 'picotool.argv'))).to.equal(false);
  });

  it('says how to install openocd when it is not on the PATH', async () => {
    const build = buildDir(dir);
    const message = await withPath(bin, () => userError(deployToBoard({ firmware: build, method: 'openocd', target: 'rp2040', report })));
    expect(message).to.match(/^--method openocd needs openocd, which is not on your PATH\. Install OpenOCD 0\.12 or newer/);
    expect(message).to.include('apt install openocd');
  });

  it('runs openocd with the CMSIS-DAP interface, the RP2040 target and program … verify reset exit on the ELF', async () => {
    const build = buildDir(dir);
    fakeTool(bin, 'openocd', '** Programming Finished **\n** Verified OK **\n** Resetting Target **\n');
    await withPath(bin, () => deployToBoard({ firmware: join(build, 'firmware.uf2'), method: 'openocd', target: 'rp2040', report }));
    const elf = join(build, 'firmware.elf');
    expect(recordedArgs(bin, 'openocd')).to.deep.equal([
      '-f',
      'interface/cmsis-dap.cfg',
      '-f',
      'target/rp2040.cfg',
      '-c',
      'adapter speed 5000',
      '-c',
      `program "${elf}" verify reset exit`,
    ]);
    expect(lines).to.include('  openocd: ** Verified OK **');
    await withPath(bin, () => deployToBoard({ firmware: build, method: 'openocd', target: 'rp2040', report, interface: 'picoprobe' }));
    expect(recordedArgs(bin, 'openocd').slice(0, 2)).to.deep.equal(['-f', 'interface/picoprobe.cfg']);
    expect(openocdArgs('/x.elf', './my probe.cfg')[1]).to.equal('./my probe.cfg');
    expect(tclQuote('/a b/$x[1]/"q".elf', 'linux')).to.equal('"/a b/\\$x\\[1\\]/\\"q\\".elf"');
    expect(tclQuote('C:\\builds\\firmware.elf', 'win32')).to.equal('"C:/builds/firmware.elf"');
  });

  it('explains openocd finding no probe, and refuses an ELF that is not for a Cortex-M', async () => {
    const build = buildDir(dir);
    fakeTool(bin, 'openocd', 'Error: unable to find a matching CMSIS-DAP device\n', 1);
    const message = await withPath(bin, () => userError(deployToBoard({ firmware: build, method: 'openocd', target: 'rp2040', report })));
    expect(message).to.match(
      /^openocd failed \(exit code 1\); its output is above\. No debug probe was found \(interface interface\/cmsis-dap\.cfg\)/,
    );
    elfFile(join(build, 'firmware.elf'), 62, 2);
    expect(await withPath(bin, () => userError(deployToBoard({ firmware: build, method: 'openocd', target: 'rp2040', report })))).to.match(
      /firmware\.elf is an ELF for x86-64, not a 32-bit Arm firmware: it was built for another target/,
    );
    rmSync(join(build, 'firmware.elf'));
    expect(await withPath(bin, () => userError(deployToBoard({ firmware: build, method: 'openocd', target: 'rp2040', report })))).to.match(
      /--method openocd flashes the ELF file .* and there is no firmware\.elf in .*llama2-embed build --target rp2040/,
    );
  });
});

describe('flash/deploy: the firmware and the target', () => {
  let dir: string;
  const report = () => {};
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('names the build to run when the firmware is missing', async () => {
    const message = await userError(deployToBoard({ firmware: join(dir, 'build', 'rp2040', 'firmware.uf2'), target: 'rp2040', report }));
    expect(message).to.match(
      /^no firmware at .*firmware\.uf2\. Build it first: llama2-embed build --target rp2040 \(it writes build\/rp2040\/firmware\.uf2 and firmware\.elf\)/,
    );
    mkdirSync(join(dir, 'empty'));
    expect(await userError(deployToBoard({ firmware: join(dir, 'empty'), target: 'rp2040', report }))).to.match(
      /has no firmware\.uf2 or firmware\.elf\. Build it first: llama2-embed build --target rp2040/,
    );
  });

  it('refuses a firmware built for another target, a target that is not a board, an unknown method', async () => {
    const hostBuild = buildDir(dir, 'host');
    expect(await userError(deployToBoard({ firmware: hostBuild, target: 'rp2040', report }))).to.match(
      /was built for target "host" \(its build-info\.json says so\), not for "rp2040"\. Build it for the board \(llama2-embed build --target rp2040\)/,
    );
    expect(await userError(deployToBoard({ firmware: hostBuild, target: 'host', report }))).to.match(
      /target "host" builds a program for a computer, not a microcontroller's firmware: there is nothing to flash\. Run it with llama2-embed run/,
    );
    expect(await userError(deployToBoard({ firmware: hostBuild, target: 'no-such-board', report }))).to.match(
      /unknown target "no-such-board"/,
    );
    const build = buildDir(dir);
    expect(await userError(deployToBoard({ firmware: build, target: 'rp2040', method: 'dfu', report }))).to.match(
      /unknown flash method "dfu": use uf2 .*, picotool or openocd/,
    );
  });

  it('finds the UF2 and the ELF from the build directory or from either file', () => {
    const build = buildDir(dir);
    const expected = { dir: build, uf2: join(build, 'firmware.uf2'), elf: join(build, 'firmware.elf'), builtFor: 'rp2040' };
    expect(locateFirmware(build, 'rp2040')).to.deep.equal(expected);
    expect(locateFirmware(join(build, 'firmware.uf2'), 'rp2040')).to.deep.equal(expected);
    expect(locateFirmware(join(build, 'firmware.elf'), 'rp2040')).to.deep.equal(expected);
    copyFileSync(join(build, 'firmware.uf2'), join(dir, 'story.uf2'));
    expect(locateFirmware(join(dir, 'story.uf2'), 'rp2040')).to.deep.equal({
      dir,
      uf2: join(dir, 'story.uf2'),
      elf: undefined,
      builtFor: undefined,
    });
  });

  it('uses the file names build writes', () => {
    expect(FIRMWARE_FILE_NAMES.uf2).to.equal(FIRMWARE_OUTPUTS.uf2);
    expect(FIRMWARE_FILE_NAMES.elf).to.equal(FIRMWARE_OUTPUTS.elf);
    expect(BUILD_INFO_FILE).to.equal(BUILD_INFO);
  });

  it('finds executables on the PATH only', () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    fakeTool(bin, 'picotool', '');
    writeFileSync(join(bin, 'openocd'), 'not executable');
    expect(findExecutable('picotool', { PATH: `${join(dir, 'missing')}:${bin}` }, 'linux')).to.equal(join(bin, 'picotool'));
    expect(findExecutable('openocd', { PATH: bin }, 'linux')).to.equal(undefined);
    expect(findExecutable('picotool', { PATH: '' }, 'linux')).to.equal(undefined);
  });
});

describe('flash/deploy: the real serial port layer', () => {
  it('sets a port to 1200 baud and closes it (on a pty from socat)', async function () {
    const ports = await loadSerialPorts();
    if (typeof ports === 'string') {
      console.log(`      skipped: ${ports}`);
      this.skip();
    }
    requireNeeds(this, 'socat');
    const dir = tempDir();
    const a = join(dir, 'pico');
    const socat = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${join(dir, 'other')}`], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 200 && !existsSync(a); i++) await new Promise((r) => setTimeout(r, 10));
      expect(existsSync(a)).to.equal(true);
      await ports.touch1200(a);
      // the pty keeps the line settings its last user left: 1200 baud
      const stty = spawnSync('stty', ['-F', a], { encoding: 'utf8' });
      expect(stty.stdout).to.match(/speed 1200 baud/);
      const missing = await ports.touch1200(join(dir, 'no-such-port')).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(missing).to.be.instanceOf(PortOpenError);
      expect((missing as PortOpenError).reason).to.equal('missing');
      expect((missing as Error).message).to.match(/^there is no serial port .*no-such-port/);
    } finally {
      socat.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the process holding a busy port (Linux)', async function () {
    if (process.platform !== 'linux') this.skip();
    const dir = tempDir();
    const file = join(dir, 'port');
    writeFileSync(file, '');
    const holder = spawn('sh', ['-c', `exec 3<"${file}"; echo ready; exec sleep 30`], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise((r) => holder.stdout.once('data', r));
      const holders = processesHolding(file);
      expect(holders.map((h) => h.pid)).to.include(holder.pid);
      expect(holders.find((h) => h.pid === holder.pid)?.command).to.equal('sleep');
      expect(new PortOpenError(file, new Error('Error Resource temporarily unavailable Cannot lock port')).message).to.match(
        /port is busy: sleep \(pid \d+\) has it open\. Close it/,
      );
    } finally {
      holder.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
