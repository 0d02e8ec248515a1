import { expect } from 'chai';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  defaultDriveSearch,
  findBootDrives,
  nodeDriveFileSystem,
  type DriveFileSystem,
  type WritableFile,
} from '../../src/pico/bootsel-drive.js';
import { PortOpenError, type SerialPortInfo, type SerialPorts } from '../../src/pico/touch1200.js';
import { deployUf2, type Uf2DeployEnvironment } from '../../src/pico/uf2-deploy.js';
import { UserError } from '../../src/util/errors.js';
import { ejectWhenComplete, fakeBootDrive, flashImage, tempDir, uf2File } from './deploy-fixtures.js';

interface FakePorts extends SerialPorts {
  touched: string[];
}

function fakePorts(ports: SerialPortInfo[], onTouch: (path: string) => void = () => {}): FakePorts {
  const touched: string[] = [];
  return {
    touched,
    list: async () => ports,
    touch1200: async (path) => {
      touched.push(path);
      onTouch(path);
    },
  };
}

const PICO_SDK_PORT: SerialPortInfo = { path: '/dev/ttyACM1', vendorId: '2E8A', productId: '000A', manufacturer: 'Raspberry Pi' };
const DEBUG_PROBE_PORT: SerialPortInfo = { path: '/dev/ttyACM0', vendorId: '2e8a', productId: '000c', manufacturer: 'Raspberry Pi' };
const PLAIN_PORT: SerialPortInfo = { path: '/dev/ttyS0' };

interface Harness {
  dir: string;
  mounts: string;
  env: Uf2DeployEnvironment;
  lines: string[];
  progress: number[];
  report: (line: string) => void;
}

function harness(overrides: Partial<Uf2DeployEnvironment> = {}): Harness {
  const dir = tempDir();
  const mounts = join(dir, 'media');
  mkdirSync(mounts);
  const lines: string[] = [];
  const progress: number[] = [];
  const env: Uf2DeployEnvironment = {
    search: { parents: [mounts], drives: [] },
    serialPorts: async () => fakePorts([PLAIN_PORT]),
    fs: nodeDriveFileSystem,
    progress: () => ({ update: (n) => progress.push(n), done: () => progress.push(-1) }),
    appearTimeoutMs: 3000,
    goneTimeoutMs: 3000,
    pollMs: 10,
    unmountedDrives: () => [],
    platform: 'linux',
    ...overrides,
  };
  return { dir, mounts, env, lines, progress, report: (line) => lines.push(line) };
}

async function userError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(err, String((err as Error).stack)).to.be.instanceOf(UserError);
    return (err as Error).message;
  }
  expect.fail('expected a UserError');
}

/** A file system whose files fail as told: at open, or at the n-th write or sync. */
function failingFs(failure: { at: 'open' | 'write' | 'sync'; code: string; after?: number }): DriveFileSystem {
  const fail = () => Object.assign(new Error(`${failure.code}: simulated`), { code: failure.code });
  return {
    openForWrite: async (path) => {
      if (failure.at === 'open') throw fail();
      const real = await nodeDriveFileSystem.openForWrite(path);
      let writes = 0;
      let syncs = 0;
      const file: WritableFile = {
        write: ((...args: Parameters<WritableFile['write']>) => {
          if (failure.at === 'write' && ++writes > (failure.after ?? 0)) return Promise.reject(fail());
          return (real.write as (...a: unknown[]) => ReturnType<WritableFile['write']>)(...args);
        }) as WritableFile['write'],
        sync: () => (failure.at === 'sync' && ++syncs > (failure.after ?? 0) ? Promise.reject(fail()) : real.sync()),
        close: () => real.close(),
      };
      return file;
    },
  };
}

describe('flash/deploy: copying the UF2 to the boot drive', () => {
  const cleanup: string[] = [];
  afterEach(() => {
    for (const dir of cleanup.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  function setup(overrides: Partial<Uf2DeployEnvironment> = {}): Harness {
    const h = harness(overrides);
    cleanup.push(h.dir);
    return h;
  }

  it('copies the UF2 to a mounted RPI-RP2 drive, byte for byte, and waits for the drive to go away', async () => {
    const h = setup();
    const { path, data } = uf2File(h.dir, { bytes: 100_000 });
    const drive = fakeBootDrive(h.mounts);
    const ejected = ejectWhenComplete(drive, 'firmware.uf2', data.length);
    await deployUf2({ uf2: path, report: h.report }, h.env);
    expect((await ejected).equals(data)).to.equal(true);
    expect(existsSync(drive)).to.equal(false);
    // progress follows the flushed chunks up to the whole file, then done
    expect(h.progress.length).to.be.greaterThan(2);
    expect(h.progress.at(-2)).to.equal(data.length);
    expect(h.progress.at(-1)).to.equal(-1);
    const text = h.lines.join('\n');
    expect(text).to.include('for the RP2040');
    expect(text).to.include(`copying to the Pico's boot drive at ${drive}`);
    expect(text).to.include('rebooted into the new firmware');
  });

  it('finds a drive named in `drives` itself (a drive letter, a hand mount) and an info file in lower case', async () => {
    const h = setup();
    const drive = fakeBootDrive(h.dir, { name: 'E', infoName: 'info_uf2.txt' });
    h.env.search = { parents: [join(h.dir, 'nowhere')], drives: [drive] };
    const { path, data } = uf2File(h.dir);
    const ejected = ejectWhenComplete(drive, 'firmware.uf2', data.length);
    await deployUf2({ uf2: path, report: h.report }, h.env);
    expect((await ejected).equals(data)).to.equal(true);
  });

  it('refuses a UF2 for another family (an RP2350 image) before touching the drive', async () => {
    const h = setup();
    const drive = fakeBootDrive(h.mounts);
    const { path } = uf2File(h.dir, { familyId: 0xe48bff59 });
    const message = await userError(deployUf2({ uf2: path, report: h.report }, h.env));
    expect(message).to.include('RP2350');
    expect(message).to.include('0xe48bff59');
    expect(message).to.include('not for the RP2040 (family 0xe48bff56)');
    expect(message).to.include('llama2-embed build --target rp2040');
    expect(readdirSync(drive).sort()).to.deep.equal(['INDEX.HTM', 'INFO_UF2.TXT']);
  });

  it('refuses a file that is not UF2, and an image whose boot2 CRC the boot ROM would reject', async () => {
    const h = setup();
    fakeBootDrive(h.mounts);
    const notUf2 = join(h.dir, 'firmware.bin.uf2');
    writeFileSync(notUf2, flashImage(1000));
    expect(await userError(deployUf2({ uf2: notUf2, report: h.report }, h.env))).to.match(
      /not a whole number of 512-byte UF2 blocks.*llama2-embed build --target rp2040/,
    );
    const image = flashImage(2000);
    image[10] ^= 0xff; // boot2's CRC no longer matches
    const { path } = uf2File(h.dir, { image, name: 'bad-crc.uf2' });
    expect(await userError(deployUf2({ uf2: path, report: h.report }, h.env))).to.match(/boot2 whose CRC is wrong/);
  });

  it('says what it looked for and what to do when there is no drive and no Pico on a serial port', async () => {
    const h = setup({ serialPorts: async () => fakePorts([PLAIN_PORT, DEBUG_PROBE_PORT]) });
    const { path } = uf2File(h.dir);
    const message = await userError(deployUf2({ uf2: path, report: h.report }, h.env));
    expect(message).to.match(/^no Raspberry Pi Pico found to flash/);
    expect(message).to.include(`${join(h.mounts, '*')}: none`);
    expect(message).to.include('INFO_UF2.TXT saying Board-ID: RPI-RP2');
    expect(message).to.include('USB vendor id 0x2e8a');
    expect(message).to.include('none among /dev/ttyS0');
    expect(message).to.include('/dev/ttyACM0 (USB 2e8a:000c, Raspberry Pi): a debug probe');
    expect(message).to.include('hold the BOOTSEL button while plugging the Pico in');
    expect(message).to.include('another USB cable');
    expect(message).to.include('sudo mount /dev/disk/by-label/RPI-RP2 /mnt');
    expect(message).to.include('--method picotool');
  });

  it('says why serial ports could not be searched, and points at a boot drive the system sees but has not mounted', async () => {
    const h = setup({
      serialPorts: async () => 'serial ports could not be listed: @serialport/bindings-cpp did not load',
      unmountedDrives: () => ['/dev/disk/by-label/RPI-RP2'],
    });
    const { path } = uf2File(h.dir);
    const message = await userError(deployUf2({ uf2: path, report: h.report }, h.env));
    expect(message).to.include('@serialport/bindings-cpp did not load');
    expect(message).to.include('has not mounted it: sudo mount /dev/disk/by-label/RPI-RP2 /mnt');
  });

  it('times out with a clear message when the drive never goes away', async () => {
    const h = setup({ goneTimeoutMs: 300 });
    const drive = fakeBootDrive(h.mounts);
    const { path, data } = uf2File(h.dir);
    const started = Date.now();
    const message = await userError(deployUf2({ uf2: path, report: h.report }, h.env));
    expect(Date.now() - started).to.be.lessThan(3000);
    expect(message).to.include(`the boot drive at ${drive} is still there 0.3 s after the copy: the Pico has not rebooted`);
    expect(message).to.include('unmount it');
    expect(message).to.include('holding BOOTSEL');
    // the copy itself was complete
    expect((await import('node:fs')).readFileSync(join(drive, 'firmware.uf2')).equals(data)).to.equal(true);
  });

  it('reboots a Pico on a serial port into BOOTSEL mode (1200-baud touch), waits for its drive and copies', async () => {
    const h = setup();
    const { path, data } = uf2File(h.dir);
    let ejected: Promise<Buffer> | undefined;
    const ports = fakePorts([PLAIN_PORT, DEBUG_PROBE_PORT, PICO_SDK_PORT], () => {
      // the drive shows up a little after the touch, as a real one would
      setTimeout(() => {
        const drive = fakeBootDrive(h.mounts);
        ejected = ejectWhenComplete(drive, 'firmware.uf2', data.length);
      }, 100);
    });
    h.env.serialPorts = async () => ports;
    await deployUf2({ uf2: path, report: h.report }, h.env);
    expect(ports.touched).to.deep.equal(['/dev/ttyACM1']); // the Pico, never the debug probe
    expect(ejected).to.not.equal(undefined);
    expect((await ejected!).equals(data)).to.equal(true);
    expect(h.lines.join('\n')).to.include(
      'rebooting the Pico on /dev/ttyACM1 (USB 2e8a:000a, Raspberry Pi) into BOOTSEL mode (opening it at 1200 baud)',
    );
  });

  it('touches the port --port names, listed or not', async () => {
    const h = setup();
    const { path, data } = uf2File(h.dir);
    let ejected: Promise<Buffer> | undefined;
    const ports = fakePorts([PICO_SDK_PORT, { ...PICO_SDK_PORT, path: '/dev/ttyACM2' }], () => {
      ejected = ejectWhenComplete(fakeBootDrive(h.mounts), 'firmware.uf2', data.length);
    });
    h.env.serialPorts = async () => ports;
    await deployUf2({ uf2: path, port: '/dev/ttyACM2', report: h.report }, h.env);
    expect(ports.touched).to.deep.equal(['/dev/ttyACM2']);
    await ejected;

    const unlisted = fakePorts([], () => {
      ejected = ejectWhenComplete(fakeBootDrive(h.mounts), 'firmware.uf2', data.length);
    });
    h.env.serialPorts = async () => unlisted;
    await deployUf2({ uf2: path, port: '/dev/serial/by-id/usb-Raspberry_Pi_Pico-if00', report: h.report }, h.env);
    expect(unlisted.touched).to.deep.equal(['/dev/serial/by-id/usb-Raspberry_Pi_Pico-if00']);
    await ejected;
  });

  it('asks for --port when several Picos are on serial ports, and refuses to touch a debug probe', async () => {
    const h = setup();
    const { path } = uf2File(h.dir);
    const ports = fakePorts([PICO_SDK_PORT, { ...PICO_SDK_PORT, path: '/dev/ttyACM2' }]);
    h.env.serialPorts = async () => ports;
    expect(await userError(deployUf2({ uf2: path, report: h.report }, h.env))).to.match(
      /2 Picos are on serial ports: .*ttyACM1.*ttyACM2.*--port/,
    );
    const probe = fakePorts([DEBUG_PROBE_PORT]);
    h.env.serialPorts = async () => probe;
    expect(await userError(deployUf2({ uf2: path, port: '/dev/ttyACM0', report: h.report }, h.env))).to.match(
      /debug probe.*--method openocd/,
    );
    expect(ports.touched.concat(probe.touched)).to.deep.equal([]);
  });

  it('says so when no drive appears after the touch', async () => {
    const h = setup({ appearTimeoutMs: 200 });
    const { path } = uf2File(h.dir);
    const ports = fakePorts([PICO_SDK_PORT]);
    h.env.serialPorts = async () => ports;
    const message = await userError(deployUf2({ uf2: path, report: h.report }, h.env));
    expect(ports.touched).to.deep.equal(['/dev/ttyACM1']);
    expect(message).to.include('no RP2040 boot drive appeared within 0.2 s after the 1200-baud touch on /dev/ttyACM1');
    expect(message).to.include("llama2-embed's own firmware has no USB");
    expect(message).to.include('Hold BOOTSEL while plugging the Pico in');
  });

  it('reports a busy port as the port layer explains it', async () => {
    const h = setup();
    const { path } = uf2File(h.dir);
    h.env.serialPorts = async () => ({
      list: async () => [PICO_SDK_PORT],
      touch1200: async (p) => {
        throw new PortOpenError(p, new Error('Error Resource temporarily unavailable Cannot lock port'));
      },
    });
    const message = await userError(deployUf2({ uf2: path, report: h.report }, h.env));
    expect(message).to.match(/^\/dev\/ttyACM1 is busy: .* has it open\. Close it and flash again\./);
  });

  it('explains a read-only drive, a full drive and a drive that vanishes in the middle of the copy', async () => {
    const h = setup();
    fakeBootDrive(h.mounts);
    const { path } = uf2File(h.dir, { bytes: 100_000 });
    h.env.fs = failingFs({ at: 'open', code: 'EROFS' });
    expect(await userError(deployUf2({ uf2: path, report: h.report }, h.env))).to.match(
      /cannot write .*firmware\.uf2: the drive is mounted read-only.*holding BOOTSEL/,
    );
    h.env.fs = failingFs({ at: 'open', code: 'EACCES' });
    expect(await userError(deployUf2({ uf2: path, report: h.report }, h.env))).to.match(/you may not write to it \(EACCES/);
    h.env.fs = failingFs({ at: 'write', code: 'ENOSPC', after: 1 });
    expect(await userError(deployUf2({ uf2: path, report: h.report }, h.env))).to.match(
      /no room on the drive for .*firmware\.uf2 \(ENOSPC: 195\.5 KiB to write, 64\.0 KiB written\)/,
    );
    h.env.fs = failingFs({ at: 'write', code: 'EIO', after: 2 });
    expect(await userError(deployUf2({ uf2: path, report: h.report }, h.env))).to.match(
      /went away in the middle of the copy \(EIO, after 128\.0 KiB of 195\.5 KiB\): the Pico did not get the whole firmware/,
    );
    h.env.fs = failingFs({ at: 'sync', code: 'ENODEV', after: 0 });
    expect(await userError(deployUf2({ uf2: path, report: h.report }, h.env))).to.match(
      /went away in the middle of the copy \(ENODEV, after 0 B/,
    );
  });

  it('takes a failed last flush as the reboot it usually is, when the drive then goes away', async () => {
    const h = setup();
    const drive = fakeBootDrive(h.mounts);
    const { path, data } = uf2File(h.dir, { bytes: 1000 }); // one chunk: its flush is the last
    h.env.fs = failingFs({ at: 'sync', code: 'EIO', after: 0 });
    const ejected = ejectWhenComplete(drive, 'firmware.uf2', data.length);
    await deployUf2({ uf2: path, report: h.report }, h.env);
    expect((await ejected).equals(data)).to.equal(true);
    expect(h.lines.join('\n')).to.match(/the last flush to .* failed \(EIO\)/);
  });

  it("refuses to choose between several Picos in BOOTSEL mode, and names another chip's boot drive", async () => {
    const h = setup();
    const { path } = uf2File(h.dir);
    fakeBootDrive(h.mounts, { name: 'RPI-RP2' });
    fakeBootDrive(h.mounts, { name: 'RPI-RP2 1' });
    expect(await userError(deployUf2({ uf2: path, report: h.report }, h.env))).to.match(
      /2 Picos are in BOOTSEL mode .*Unplug all but the one/,
    );
    rmSync(h.mounts, { recursive: true });
    mkdirSync(h.mounts);
    const pico2 = fakeBootDrive(h.mounts, { name: 'RP2350', boardId: 'RP2350' });
    const message = await userError(deployUf2({ uf2: path, report: h.report }, h.env));
    expect(message).to.include(`the boot drive found is not an RP2040's: ${pico2} (Board-ID: RP2350`);
    expect(message).to.include('Pico 2 (RP2350)');
    expect(readdirSync(pico2)).to.not.include('firmware.uf2');
  });
});

describe('flash/deploy: where boot drives are looked for', () => {
  it('uses the usual mount points of Linux, macOS and Windows', () => {
    const linux = defaultDriveSearch('linux');
    expect(linux.parents.slice(-2)).to.deep.equal(['/media', '/mnt']);
    expect(linux.parents.some((p) => /^\/media\/[^/]+$/.test(p))).to.equal(true);
    expect(linux.parents.some((p) => /^\/run\/media\/[^/]+$/.test(p))).to.equal(true);
    expect(linux.drives).to.deep.equal(['/mnt']);
    expect(defaultDriveSearch('linux', { SUDO_USER: 'ann' }).parents).to.include.members(['/media/ann', '/run/media/ann']);
    expect(defaultDriveSearch('darwin')).to.deep.equal({ parents: ['/Volumes'], drives: [] });
    const windows = defaultDriveSearch('win32');
    expect(windows.parents).to.deep.equal([]);
    expect(windows.drives[0]).to.equal('D:\\');
    expect(windows.drives.at(-1)).to.equal('Z:\\');
    expect(windows.drives).to.have.length(23);
  });

  it('recognises boot drives by INFO_UF2.TXT and skips other directories', () => {
    const dir = tempDir();
    try {
      fakeBootDrive(dir, { name: 'RPI-RP2' });
      mkdirSync(join(dir, 'USB STICK'));
      writeFileSync(join(dir, 'USB STICK', 'INFO_UF2.TXT'), 'just a file with no board id\n');
      writeFileSync(join(dir, 'a-file'), 'x');
      const drives = findBootDrives({ parents: [dir, join(dir, 'missing')], drives: [join(dir, 'RPI-RP2')] });
      expect(drives).to.deep.equal([{ path: join(dir, 'RPI-RP2'), boardId: 'RPI-RP2', model: 'Raspberry Pi RP2' }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
