/**
 * `flash --serial /dev/ttyGS0`: the program as a systemd service on the Pi, speaking the protocol
 * on a serial device instead of over SSH. For a Pi Zero 2 W plugged into a computer by its USB
 * port in gadget mode (dtoverlay=dwc2 and the g_serial module): the Pi sees /dev/ttyGS0, the
 * computer a USB serial port (/dev/ttyACM0, COM3), and `llama2-embed monitor --port /dev/ttyACM0`
 * talks to the Pi as to any board.
 *
 * The service starts whenever the device appears (and at boot once it has), restarts the program
 * if it exits (the computer closed the port), and takes the port from a login console that a
 * gadget tutorial may have put there (serial-getty@ttyGS0).
 */
import { UserError } from '../util/errors.js';
import { runRemote, type SshDestination } from './ssh-client.js';
import { PROGRAM_NAME } from './ssh-probe.js';
import { remotePath, shellQuote } from './ssh-shell.js';

/** Where units installed by the administrator go. */
export const SYSTEMD_DIR = '/etc/systemd/system';

export interface GadgetService {
  /** The serial device on the Pi, e.g. /dev/ttyGS0. */
  device: string;
  /** The unit's name: llama2-embed-ttyGS0.service. */
  unitName: string;
  /** The unit file's text. */
  unit: string;
}

/** systemd's name for a device path's unit (systemd-escape --path --suffix=device). */
export function deviceUnitName(device: string): string {
  const path = device.replace(/^\/+/, '').replace(/\/+$/, '');
  const escaped = path
    .split('/')
    .map((part) => part.replace(/[^A-Za-z0-9:_.]|^\./g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`))
    .join('-');
  return `${escaped}.device`;
}

/** Refuses what is not a device path a unit file can hold. */
export function checkSerialDevice(device: string): void {
  if (!/^\/dev\/[A-Za-z0-9_./-]+$/.test(device) || device.includes('..')) {
    throw new UserError(
      `--serial takes the serial device on the Pi, like /dev/ttyGS0 (USB gadget serial) or /dev/serial0 (the GPIO UART), got "${device}".`,
      2,
    );
  }
}

/** The service for the program at `programDir` (an absolute path on the Pi), run as `user`. */
export function gadgetService(options: { device: string; programDir: string; user: string; target: string; model: string }): GadgetService {
  checkSerialDevice(options.device);
  const base = options.device.replace(/^\/dev\//, '').replace(/\//g, '-');
  const unitName = `llama2-embed-${base}.service`;
  const deviceUnit = deviceUnitName(options.device);
  const program = `${options.programDir.replace(/\/+$/, '')}/${PROGRAM_NAME}`;
  const quote = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/(["\\])/g, '\\$1')}"`);
  const getty = base.includes('-') ? undefined : `serial-getty@${base}.service`;
  const unit = [
    '# Installed by llama2-embed flash --serial: the model, in the serial protocol of llama2-embed monitor.',
    `# Remove with: sudo systemctl disable --now ${unitName} && sudo rm /etc/systemd/system/${unitName}`,
    '[Unit]',
    `Description=llama2-embed ${options.target} program (${options.model}) on ${options.device}`,
    `BindsTo=${deviceUnit}`,
    `After=${deviceUnit}`,
    ...(getty ? [`Conflicts=${getty}`] : []),
    '',
    '[Service]',
    `ExecStart=${quote(program)} --protocol --serial-device ${options.device}`,
    `WorkingDirectory=${quote(options.programDir)}`,
    `User=${options.user}`,
    'SupplementaryGroups=dialout',
    'Restart=always',
    'RestartSec=1',
    '',
    '[Install]',
    `WantedBy=${deviceUnit}`,
    '',
  ].join('\n');
  return { device: options.device, unitName, unit };
}

/**
 * The script that installs the unit (read from stdin into the program's directory first, so that
 * it is there to install by hand if sudo asks for a password), enables it and, when the device
 * is there, (re)starts it. Exit status 4: sudo needs a password.
 */
export function installScript(service: GadgetService, remoteDir: string, systemdDir = SYSTEMD_DIR): string {
  const unitFile = `${remotePath(remoteDir)}/${shellQuote(service.unitName)}`;
  const name = shellQuote(service.unitName);
  return [
    'set -e',
    `u=${unitFile}`,
    'cat > "$u.tmp" && mv -f -- "$u.tmp" "$u"',
    'if [ "$(id -u)" = 0 ]; then s=; elif sudo -n true 2>/dev/null; then s="sudo -n"; else exit 4; fi',
    `$s install -m 644 -- "$u" ${shellQuote(systemdDir)}/${name}`,
    '$s systemctl daemon-reload',
    `$s systemctl enable ${name} 2>&1`,
    `if [ -e ${shellQuote(service.device)} ]; then $s systemctl restart ${name}; echo started; else echo waiting; fi`,
  ].join('\n');
}

/** Installs, enables and starts the service; says what it did, or what to type when sudo needs a password. */
export async function installGadgetService(
  dest: SshDestination,
  remoteDir: string,
  service: GadgetService,
  report: (line: string) => void,
  systemdDir = SYSTEMD_DIR,
): Promise<void> {
  const result = await runRemote(dest, installScript(service, remoteDir, systemdDir), { input: service.unit });
  const unitPath = `${remoteDir.replace(/\/+$/, '')}/${service.unitName}`;
  if (result.code === 4) {
    throw new UserError(
      `sudo on ${dest.host} asks for a password, and llama2-embed never types one. The unit is in ${unitPath}; install it there by hand:\n` +
        `  sudo install -m 644 ${unitPath} /etc/systemd/system/ && sudo systemctl daemon-reload && sudo systemctl enable --now ${service.unitName}`,
    );
  }
  if (result.code !== 0) {
    const said = result.stderr.trim().split('\n').slice(-5).join('\n  ');
    throw new UserError(
      `installing the service ${service.unitName} on ${dest.host} failed (exit status ${result.code})${said ? `:\n  ${said}` : ''}\nThe unit is in ${unitPath}.`,
    );
  }
  if (/started/.test(result.stdout)) report(`      ${service.unitName} runs the program on ${service.device}`);
  else {
    report(
      `      ${service.unitName} is enabled and starts when ${service.device} appears; ${dest.host} has no ${service.device} yet. ` +
        'For USB gadget serial: dtoverlay=dwc2 in /boot/firmware/config.txt, modules-load=dwc2,g_serial after rootwait in /boot/firmware/cmdline.txt, then reboot (doc/raspberry-pi.md).',
    );
  }
}
