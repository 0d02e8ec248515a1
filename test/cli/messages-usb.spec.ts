/**
 * Messages that still described the UART-only firmware (issue 15.10): the firmware is a USB
 * serial port by default (build --stdio usb), UART0 only for --stdio uart builds.
 */
import { expect } from 'chai';
import { NO_BOARD_ADVICE } from '../../src/serial/ports.js';
import { cli } from '../helpers/cli.js';

describe('messages about where the firmware talks (issue 15.10)', () => {
  it('no board found: says the firmware is a USB serial port by default, UART0 only for --stdio uart', () => {
    const advice = NO_BOARD_ADVICE.join('\n');
    expect(advice).to.match(/USB serial port on its own USB connector \(2e8a:000a; the default, build --stdio usb\)/);
    expect(advice).to.not.match(/a Pico running this firmware talks on its UART0 pins/);
  });

  it("flash --help: --emulate exposes the firmware's USB serial port by default", () => {
    const help = cli(['flash', '--help']);
    expect(help.status).to.equal(0);
    expect(help.stdout.replace(/\s+/g, ' ')).to.match(
      /its serial port \(USB CDC by default, UART0 for a --stdio uart build\) becomes a pseudo-terminal/,
    );
    expect(help.stdout).to.not.match(/its UART0 becomes a pseudo-terminal/);
  });
});
