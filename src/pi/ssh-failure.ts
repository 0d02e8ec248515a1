/**
 * What went wrong when `ssh` itself failed (exit status 255), from what it said on stderr, as a
 * message that says which host, what was expected, what happened and what to do. llama2-embed
 * runs ssh with BatchMode=yes: it never asks for a password, so a missing key is a failure here,
 * not a prompt.
 */
import { UserError } from '../util/errors.js';

/** ssh's exit status for its own errors (connection, authentication), as opposed to the remote command's. */
export const SSH_FAILED = 255;

export type SshFailureKind = 'unresolved' | 'refused' | 'unreachable' | 'auth' | 'host-key' | 'closed' | 'other';

/** A failure of ssh itself, not of the remote command: `kind` for callers to react to, advice in the message. */
export class SshError extends UserError {
  constructor(
    readonly kind: SshFailureKind,
    message: string,
  ) {
    super(message);
    this.name = 'SshError';
  }
}

/** The lines of ssh's stderr that are its own complaints (not warnings about known_hosts). */
function sshSaid(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^Warning: Permanently added/.test(l));
  return lines.slice(-3).join(' / ').replace(/\.$/, '');
}

/** What ssh's stderr says went wrong: unresolved name, refused, unreachable, host key, auth, closed, else 'other'. */
export function classifySshFailure(stderr: string): SshFailureKind {
  if (/Could not resolve hostname|Name or service not known|nodename nor servname/i.test(stderr)) return 'unresolved';
  if (/Connection refused/i.test(stderr)) return 'refused';
  if (/timed out|No route to host|Network is unreachable|Host is down/i.test(stderr)) return 'unreachable';
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(stderr)) return 'host-key';
  if (/Permission denied|Too many authentication failures|no matching (host key|key exchange)|Authentication failed/i.test(stderr))
    return 'auth';
  if (/Connection closed|Connection reset|kex_exchange_identification|Broken pipe/i.test(stderr)) return 'closed';
  return 'other';
}

/**
 * The error for ssh's own failure talking to `host` (its stderr, its exit status 255).
 * `port` is the one given with --ssh-port, if any; `connectTimeout` the seconds ssh waited.
 */
export function sshFailure(host: string, stderr: string, options: { port?: number; connectTimeout: number }): SshError {
  const kind = classifySshFailure(stderr);
  const said = sshSaid(stderr);
  const quoted = said ? ` (ssh said: ${said})` : '';
  const at = options.port === undefined ? host : `${host} port ${options.port}`;
  const hostName = host.replace(/^[^@]*@/, '');
  switch (kind) {
    case 'unresolved':
      return new SshError(
        kind,
        `cannot reach ${host}: the name ${hostName} could not be resolved${quoted}. Check the spelling; a .local name needs mDNS on this computer ` +
          `(Debian/Ubuntu: apt-get install libnss-mdns), or use the Pi's IP address (hostname -I on the Pi, or your router's list of devices).`,
      );
    case 'refused':
      return new SshError(
        kind,
        `cannot reach ${at}: the machine answered, but nothing accepts SSH connections there${quoted}. ` +
          `Enable SSH on the Pi (sudo raspi-config, Interface Options, SSH; or an empty file named "ssh" on the SD card's boot partition), ` +
          `or give the port it listens on with --ssh-port.`,
      );
    case 'unreachable':
      return new SshError(
        kind,
        `cannot reach ${at}: no answer within ${options.connectTimeout} s${quoted}. Is the Pi on, booted and on this network? ` +
          `Check the address (ping ${hostName}); a Pi that has just been powered on needs a minute or so before SSH answers.`,
      );
    case 'auth':
      return new SshError(
        kind,
        `${host} refused the login: authentication failed${quoted}. llama2-embed logs in with your SSH keys and never types a password. ` +
          `Check the user name (the part before @), then install your key on the Pi: ssh-keygen -t ed25519 (if you have no key yet), ` +
          `then ssh-copy-id ${host}; or name the key with --identity FILE. ssh ${host} true must work without a password.`,
      );
    case 'host-key':
      return new SshError(
        kind,
        `${host}'s host key is not the one this computer recorded for it${quoted}: the Pi was reinstalled, or another machine now has its address. ` +
          `If you know it is your Pi, forget the old key with ssh-keygen -R ${hostName} and try again.`,
      );
    case 'closed':
      return new SshError(
        kind,
        `${at} closed the SSH connection before logging in${quoted}. Is it an SSH server, and does it accept this user? Try ssh ${host} true.`,
      );
    default:
      return new SshError(kind, `ssh to ${at} failed${quoted}. Try ssh ${host} true to see why.`);
  }
}

/** The error when there is no ssh program on this computer. */
export function sshMissing(command: string): UserError {
  return new UserError(
    `${command} was not found; llama2-embed uses your OpenSSH client to reach the Pi. Install it: apt-get install openssh-client (Debian/Ubuntu); ` +
      'macOS and Windows 10 or newer have it already (on Windows: Settings, Optional features, OpenSSH Client).',
  );
}
