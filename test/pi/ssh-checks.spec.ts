/**
 * The parts of the SSH deployment that need no server: the words sent to the remote shell, ssh's
 * arguments, what its failures mean, the Pi's facts and the checks on them, the systemd unit of
 * --serial, and the target's name in model.h (the HELLO's).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { CONNECT_TIMEOUT_SECONDS, checkDestination, sshArgs } from '../../src/pi/ssh-client.js';
import { classifySshFailure, sshFailure } from '../../src/pi/ssh-failure.js';
import { checkSerialDevice, deviceUnitName, gadgetService, installScript } from '../../src/pi/ssh-gadget-service.js';
import { protocolCommand } from '../../src/pi/ssh-link.js';
import { absoluteRemoteDir, checkArchitecture, checkSpace, parseProbe, probeScript, type RemoteFacts } from '../../src/pi/ssh-probe.js';
import { displayRemote, remotePath, shellQuote } from '../../src/pi/ssh-shell.js';
import { emitModelHeader } from '../../src/codegen/model-header.js';
import { makePlan } from '../../src/plan/plan.js';
import { loadTarget } from '../../src/plan/target.js';
import { STORIES15M } from '../helpers/random-model.js';
import { userError } from '../helpers/errors.js';
import { cli, expectUserError } from '../helpers/cli.js';

const pi = { host: 'pi@raspberrypi.local' };
const facts = (more: Partial<RemoteFacts> = {}): RemoteFacts => ({
  os: 'Linux',
  machine: 'aarch64',
  dotProduct: false,
  user: 'pi',
  home: '/home/pi',
  existingDir: '/home/pi',
  availableBytes: 10 * 1024 * 1024 * 1024,
  mountPoint: '/',
  devices: [],
  ...more,
});

/** What `sh -c` makes of a word: the string it stands for. */
function shellSays(word: string, env: Record<string, string> = {}): string {
  return spawnSync('sh', ['-c', `printf '%s' ${word}`], { encoding: 'utf8', env: { ...process.env, ...env } }).stdout;
}

describe('ssh deployment: remote shell words', () => {
  it('quotes every path so that the shell on the Pi sees it as it is, and expands only a leading ~', () => {
    for (const word of ['plain', 'with space', "it's", 'a"b', '$HOME', '`id`', 'back\\slash', 'tab\there', '*'])
      expect(shellSays(shellQuote(word)), word).to.equal(word);
    expect(remotePath('~/llama2-embed')).to.equal(`"$HOME"/llama2-embed`);
    expect(shellSays(remotePath('~/my models/x'), { HOME: '/home/pi' })).to.equal('/home/pi/my models/x');
    expect(shellSays(remotePath('~'), { HOME: '/home/pi' })).to.equal('/home/pi');
    expect(shellSays(remotePath('/opt/llama2/'))).to.equal('/opt/llama2');
    expect(shellSays(remotePath('~user/x'))).to.equal('~user/x');
    expect(displayRemote('pi@pi4', '~/llama2-embed/', 'llama2')).to.equal('pi@pi4:~/llama2-embed/llama2');
  });

  it('runs the program in protocol mode with exec, after checking that it is there', () => {
    expect(protocolCommand('~/llama2-embed')).to.equal(
      'p="$HOME"/llama2-embed/llama2; if [ ! -x "$p" ]; then echo "no program at $p" >&2; exit 3; fi; exec "$p" --protocol',
    );
  });

  it('the probe script runs in sh and prints what parseProbe reads', () => {
    const out = spawnSync('sh', ['-c', probeScript('/tmp/does/not/exist/yet', ['/dev/null', '/dev/ttyGS9'])], { encoding: 'utf8' }).stdout;
    const f = parseProbe(out);
    expect(f.os).to.equal('Linux');
    expect(f.machine).to.equal(spawnSync('uname', ['-m'], { encoding: 'utf8' }).stdout.trim());
    expect(f.existingDir).to.equal('/tmp');
    expect(f.availableBytes).to.be.a('number');
    expect(f.devices).to.deep.equal(['/dev/null']);
  });
});

describe("ssh deployment: ssh's arguments", () => {
  it("never prompts, times out, no pty, no escape character; the user's -o options come first, so that they win", () => {
    const args = sshArgs({ host: 'pi@pi4', port: 2222, identity: '/k', options: ['StrictHostKeyChecking=yes'] }, 'uname -m');
    expect(args.slice(0, 2)).to.deep.equal(['-o', 'StrictHostKeyChecking=yes']);
    expect(args.join(' ')).to.contain('-i /k -o IdentitiesOnly=yes -p 2222 -o BatchMode=yes');
    expect(args).to.include(`ConnectTimeout=${CONNECT_TIMEOUT_SECONDS}`);
    expect(args).to.include('StrictHostKeyChecking=accept-new');
    expect(args.slice(-5)).to.deep.equal(['-T', '-e', 'none', 'pi@pi4', 'uname -m']);
    expect(sshArgs(pi, 'x', { keepAlive: true })).to.include('ServerAliveInterval=5');
  });

  it('refuses a host that ssh would take for an option, a bad port, an -o without a value', () => {
    expect(userError(() => checkDestination({ host: '-oProxyCommand=x' })).message).to.contain('like pi@raspberrypi.local');
    expect(userError(() => checkDestination({ host: 'pi@a b' })).message).to.contain('--host');
    expect(userError(() => checkDestination({ host: 'pi@pi4', port: 70000 })).message).to.contain('--ssh-port');
    expect(userError(() => checkDestination({ host: 'pi@pi4', options: ['BatchMode'] })).message).to.contain('KEY=VALUE');
  });
});

describe("ssh deployment: what ssh's failures mean", () => {
  const cases: [string, string, string[]][] = [
    [
      'ssh: Could not resolve hostname raspberrypi.local: Name or service not known',
      'unresolved',
      ['cannot reach pi@raspberrypi.local', 'could not be resolved', 'libnss-mdns', 'IP address'],
    ],
    [
      'ssh: connect to host 10.0.0.7 port 22: Connection refused',
      'refused',
      ['nothing accepts SSH connections', 'raspi-config', '--ssh-port'],
    ],
    [
      'ssh: connect to host 10.0.0.7 port 22: Connection timed out',
      'unreachable',
      [`no answer within ${CONNECT_TIMEOUT_SECONDS} s`, 'Is the Pi on'],
    ],
    ['ssh: connect to host 10.0.0.7 port 22: No route to host', 'unreachable', ['Is the Pi on']],
    [
      'pi@raspberrypi.local: Permission denied (publickey,password).',
      'auth',
      ['refused the login: authentication failed', 'never types a password', 'ssh-copy-id pi@raspberrypi.local', '--identity'],
    ],
    [
      '@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.',
      'host-key',
      ['ssh-keygen -R raspberrypi.local'],
    ],
    ['kex_exchange_identification: Connection closed by remote host', 'closed', ['closed the SSH connection']],
  ];
  for (const [stderr, kind, phrases] of cases) {
    it(`${kind}: ${stderr.split('\n').pop()}`, () => {
      expect(classifySshFailure(stderr)).to.equal(kind);
      const message = sshFailure('pi@raspberrypi.local', `Warning: Permanently added 'x' to the list of known hosts.\n${stderr}\n`, {
        connectTimeout: CONNECT_TIMEOUT_SECONDS,
      }).message;
      for (const phrase of phrases) expect(message).to.contain(phrase);
      expect(message).to.not.contain('Permanently added');
    });
  }
});

describe('ssh deployment: checks on the Pi', () => {
  it('reads df -P output, whatever the file system is called', () => {
    const f = parseProbe(
      'os=Linux\nmachine=aarch64\ndotprod=yes\nuser=pi\nhome=/home/pi\nexisting=/home/pi\ndf=/dev/root with space 30000000 5000000 123456 5% /\n',
    );
    expect(f).to.include({ os: 'Linux', machine: 'aarch64', dotProduct: true, user: 'pi', availableBytes: 123456 * 1024, mountPoint: '/' });
  });

  it('refuses a 32-bit Raspberry Pi OS for a Pi program, and says to install the 64-bit one', () => {
    const m = userError(() => checkArchitecture(pi, 'rpi4', 'aarch64', facts({ machine: 'armv7l' }))).message;
    expect(m).to.contain('pi@raspberrypi.local is armv7l (32-bit Arm) (uname -m), but the rpi4 program is for aarch64 (64-bit Arm)');
    expect(m).to.contain('Raspberry Pi OS (64-bit)');
  });

  it('refuses an x86 machine for a Pi program, a Pi for the host program, and another system than Linux', () => {
    expect(userError(() => checkArchitecture(pi, 'rpi4', 'aarch64', facts({ machine: 'x86_64' }))).message).to.contain(
      'is x86_64 (64-bit Intel/AMD)',
    );
    expect(userError(() => checkArchitecture(pi, 'host', 'x86_64', facts())).message).to.contain('--target rpi4');
    expect(userError(() => checkArchitecture(pi, 'rpi4', 'aarch64', facts({ os: 'Darwin', machine: 'arm64' }))).message).to.contain(
      'runs Darwin (uname -s), not Linux',
    );
    checkArchitecture(pi, 'rpi4', 'aarch64', facts());
  });

  it('refuses the rpi5 program on a CPU without dot product, and takes it on one with', () => {
    expect(userError(() => checkArchitecture(pi, 'rpi5', 'aarch64', facts())).message).to.contain('--target rpi4');
    checkArchitecture(pi, 'rpi5', 'aarch64', facts({ dotProduct: true }));
  });

  it('refuses a copy that does not fit, with the numbers', () => {
    const m = userError(() =>
      checkSpace(pi, '~/llama2-embed', 200 * 1024 * 1024, facts({ availableBytes: 50 * 1024 * 1024, mountPoint: '/' })),
    ).message;
    expect(m).to.contain('not enough space on pi@raspberrypi.local for pi@raspberrypi.local:~/llama2-embed: the program needs 200.0 MiB');
    expect(m).to.contain('mounted on / has 50.0 MiB free');
    expect(m).to.contain('--path');
    checkSpace(pi, '~/llama2-embed', 200, facts({ availableBytes: 200 }));
    checkSpace(pi, '~/llama2-embed', 200, facts({ availableBytes: undefined })); // no df: not checked
  });

  it("resolves the program's directory on the Pi for the unit file", () => {
    expect(absoluteRemoteDir('~/llama2-embed', facts())).to.equal('/home/pi/llama2-embed');
    expect(absoluteRemoteDir('models/x/', facts())).to.equal('/home/pi/models/x');
    expect(absoluteRemoteDir('/opt/llama2', facts())).to.equal('/opt/llama2');
  });
});

describe('ssh deployment: --serial, the service on a gadget serial port', () => {
  it('names device units as systemd-escape --path does', () => {
    expect(deviceUnitName('/dev/ttyGS0')).to.equal('dev-ttyGS0.device');
    expect(deviceUnitName('/dev/serial/by-id/usb-my-board')).to.equal('dev-serial-by\\x2did-usb\\x2dmy\\x2dboard.device');
  });

  it('writes a unit that starts with the device, restarts the program, and takes the port from a login console', () => {
    const s = gadgetService({
      device: '/dev/ttyGS0',
      programDir: '/home/pi/llama2-embed',
      user: 'pi',
      target: 'rpi-zero2',
      model: 'stories15M.bin',
    });
    expect(s.unitName).to.equal('llama2-embed-ttyGS0.service');
    expect(s.unit).to.contain('Description=llama2-embed rpi-zero2 program (stories15M.bin) on /dev/ttyGS0');
    expect(s.unit).to.contain('ExecStart=/home/pi/llama2-embed/llama2 --protocol --serial-device /dev/ttyGS0\n');
    for (const line of [
      'BindsTo=dev-ttyGS0.device',
      'After=dev-ttyGS0.device',
      'Conflicts=serial-getty@ttyGS0.service',
      'User=pi',
      'SupplementaryGroups=dialout',
      'Restart=always',
      'WantedBy=dev-ttyGS0.device',
    ]) {
      expect(s.unit).to.contain(`${line}\n`);
    }
    expect(
      gadgetService({ device: '/dev/ttyGS0', programDir: '/home/pi/my models', user: 'pi', target: 'rpi4', model: 'm' }).unit,
    ).to.contain('ExecStart="/home/pi/my models/llama2" --protocol');
  });

  it('installs with sudo -n (never a password prompt), enables, and starts only when the device is there', () => {
    const script = installScript(
      gadgetService({ device: '/dev/ttyGS0', programDir: '/home/pi/llama2-embed', user: 'pi', target: 'rpi4', model: 'm' }),
      '~/llama2-embed',
    );
    expect(script).to.contain('sudo -n true');
    expect(script).to.contain('install -m 644 -- "$u" /etc/systemd/system/llama2-embed-ttyGS0.service');
    expect(script).to.contain('systemctl daemon-reload');
    expect(script).to.contain('systemctl enable llama2-embed-ttyGS0.service');
    expect(script).to.contain('if [ -e /dev/ttyGS0 ]; then $s systemctl restart llama2-embed-ttyGS0.service');
  });

  it('refuses what is not a device path', () => {
    for (const bad of ['ttyGS0', '/dev/../etc/passwd', '/dev/tty GS0', '/tmp/x'])
      expect(userError(() => checkSerialDevice(bad)).message, bad).to.contain('--serial takes');
  });
});

describe('model.h names the target, for the HELLO', () => {
  it('#define TARGET_NAME "<target>"', () => {
    for (const target of ['host', 'rpi4', 'rpi-zero2']) {
      const plan = makePlan(loadTarget(target), STORIES15M, { weights: 'q8_0', groupSize: 32, sharedClassifier: true });
      const header = emitModelHeader(
        plan,
        { modelName: 'm.bin', tokenizerBytes: 1, tokenizerMaxTokenLength: 1, defaultThreads: 1 },
        '/* test */',
      );
      expect(header).to.match(new RegExp(`#define TARGET_NAME +"${target}"`));
    }
  });
});

describe('ssh deployment: options that do not go together are usage errors, before any connection', () => {
  it('flash and monitor say what to give instead', () => {
    expect(expectUserError(cli(['flash', '--target', 'rpi4']), 2)).to.contain('--host pi@raspberrypi.local');
    expect(expectUserError(cli(['flash', '--target', 'rp2040', '--host', 'pi@pi4']), 2)).to.contain("Give the Pi's target: --target rpi4");
    expect(expectUserError(cli(['flash', '--target', 'rpi4', '--host', 'pi@pi4', '--port', '2222']), 2)).to.contain('--ssh-port');
    expect(expectUserError(cli(['flash', '--target', 'rpi4', '--serial', '/dev/ttyGS0']), 2)).to.contain('--host');
    expect(expectUserError(cli(['flash', '--target', 'rpi4', '--host', 'pi@pi4', '--serial', 'ttyGS0']), 2)).to.contain(
      '--serial takes the serial device on the Pi',
    );
    expect(expectUserError(cli(['monitor', '--path', '~/x', '-i', 'x']), 2)).to.contain('it goes with --host');
    expect(expectUserError(cli(['monitor', '--host', 'pi@pi4', '--port', '/dev/ttyACM0', '-i', 'x']), 2)).to.contain('exclude each other');
    expect(expectUserError(cli(['monitor', '--host', 'pi@pi4', '--raw']), 2)).to.contain('--raw is a serial terminal');
    expect(expectUserError(cli(['monitor', '--host=-oProxyCommand=x', '-i', 'x']), 2)).to.contain('like pi@raspberrypi.local');
  });
});
