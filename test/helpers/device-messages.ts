/** What an emulated firmware has said over the serial protocol (doc/protocol.md), decoded. */
import type { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { decodeFrame, FrameDecoder, type Message } from '../../src/serial/protocol.js';

/**
 * The device's messages so far: everything after its first delimiter (what it printed before,
 * such as a story at reset, is text). A bad or unreadable frame throws: the firmware must not send one.
 */
export function deviceMessages(emu: Rp2040Emulator): Message[] {
  const bytes = emu.outputBuffer;
  const start = bytes.indexOf(0);
  if (start < 0) return [];
  const out: Message[] = [];
  for (const event of new FrameDecoder().push(bytes.subarray(start))) {
    if (event.kind !== 'frame') throw new Error(`bad frame from the device: ${event.message}`);
    const decoded = decodeFrame(event);
    if ('error' in decoded) throw new Error(`unreadable message from the device: ${decoded.error.message}`);
    out.push(decoded.message);
  }
  return out;
}
