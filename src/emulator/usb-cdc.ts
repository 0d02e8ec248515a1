/**
 * The computer's side of a USB cable plugged into an emulated Pico: a USB host that enumerates
 * the firmware's CDC-ACM serial port through rp2040js's USB controller model, then carries bytes
 * both ways, as Linux's cdc-acm driver would.
 *
 *   const emu = await Rp2040Emulator.load('firmware.uf2');
 *   const usb = UsbCdcHost.attach(emu);                         // before the firmware enables its controller
 *   usb.onData((bytes) => process.stdout.write(bytes));
 *   await runUntil(emu, () => usb.state === 'open');           // enumerated, line coding set, DTR up
 *   usb.write(Buffer.from('hello'));
 *
 * rp2040js ships a host-side helper of its own (USBCDC), but it reads only the configuration
 * descriptor, never the device or string descriptors, sets no line coding, and answers every
 * OUT buffer the firmware arms at once, with zero bytes when it has none (a real host NAKs until
 * it has data). This one enumerates as a host does: device descriptor, SET_ADDRESS, device
 * descriptor again, configuration descriptor (header, then whole), the language and string
 * descriptors, SET_CONFIGURATION, then SET_LINE_CODING and SET_CONTROL_LINE_STATE (DTR, RTS) as a
 * program opening the port does. Control transfers run one at a time, each stage when the
 * firmware arms the buffer for it; OUT data is handed over only when there is some.
 *
 * What the model does not check (rp2040js works at the level of buffers): bus timing, data toggles,
 * the device address (the controller answers whatever address), and STALL: a request the device
 * stalls never completes here, so only requests a CDC device must answer are sent.
 */
import type { RP2040, RPUSBController } from 'rp2040js';

type IAlarm = ReturnType<RP2040['clock']['createAlarm']>;
import type { Rp2040Emulator, RunResult } from './rp2040.js';

export type UsbHostState = 'detached' | 'enumerating' | 'configured' | 'open';

export interface LineCoding {
  baud: number;
  /** 0: 1 stop bit, 1: 1.5, 2: 2 */
  stopBits: number;
  /** 0 none, 1 odd, 2 even, 3 mark, 4 space */
  parity: number;
  dataBits: number;
}

export interface DeviceDescriptor {
  bcdUSB: number;
  deviceClass: number;
  deviceSubClass: number;
  deviceProtocol: number;
  maxPacketSize0: number;
  vendorId: number;
  productId: number;
  bcdDevice: number;
  manufacturerIndex: number;
  productIndex: number;
  serialNumberIndex: number;
  configurations: number;
}

export interface EndpointDescriptor {
  address: number;
  /** 0 control, 1 isochronous, 2 bulk, 3 interrupt */
  type: number;
  maxPacketSize: number;
  interval: number;
}

export interface InterfaceDescriptor {
  number: number;
  interfaceClass: number;
  subClass: number;
  protocol: number;
  endpoints: EndpointDescriptor[];
  /** Class-specific descriptors (type 0x24 for CDC), raw, in order. */
  functional: Uint8Array[];
}

export interface ConfigurationInfo {
  raw: Uint8Array;
  totalLength: number;
  value: number;
  attributes: number;
  maxPowerMilliamps: number;
  interfaces: InterfaceDescriptor[];
  /** Interface association descriptors: first interface, count, class. */
  associations: { firstInterface: number; count: number; functionClass: number }[];
}

interface SetupFields {
  requestType: number;
  request: number;
  value: number;
  index: number;
  length: number;
}

interface ControlTransfer {
  setup: SetupFields;
  dataOut?: Uint8Array;
  received: number[];
  resolve: (data: Uint8Array) => void;
}

type Ep0Stage = 'idle' | 'data-in' | 'data-out' | 'status-in' | 'status-out';

/** Emulated nanoseconds between two control transfers, and between a bus reset and the first (a host's pace). */
const HOST_GAP_NANOS = 50_000;
const CDC_DATA_CLASS = 0x0a;

export const CDC_REQUEST = { SET_LINE_CODING: 0x20, GET_LINE_CODING: 0x21, SET_CONTROL_LINE_STATE: 0x22 } as const;

/**
 * The USB host (see above): attach() it before the firmware enables its USB controller; it then
 * enumerates the device, opens its CDC-ACM port (line coding, DTR) and moves bytes over the bulk
 * endpoints with a real host's pacing. `state` tells how far it got.
 */
export class UsbCdcHost {
  private readonly usb: RPUSBController;
  private stateValue: UsbHostState = 'detached';
  private readonly queue: ControlTransfer[] = [];
  private current?: ControlTransfer;
  private stage: Ep0Stage = 'idle';
  private ep0ReadPending = false;
  private readonly gap: IAlarm;
  private gapScheduled = false;
  private dataIn = -1;
  private dataOut = -1;
  private outPending = 0;
  private readonly txQueue: number[] = [];
  private readonly listeners = new Set<(bytes: Uint8Array) => void>();
  private readonly stateListeners = new Set<(state: UsbHostState) => void>();
  /** What enumeration read. */
  device?: DeviceDescriptor;
  configuration?: ConfigurationInfo;
  readonly strings = new Map<number, string>();
  /** Bytes received from the device on its bulk IN endpoint, in all. */
  bytesReceived = 0;
  /** Bytes the device has taken from us on its bulk OUT endpoint. */
  bytesSent = 0;
  /** Every control request completed, in order (for tests): request type, request, value. */
  readonly log: SetupFields[] = [];

  private constructor(
    readonly emulator: Rp2040Emulator,
    private readonly options: { open: boolean; lineCoding: LineCoding },
  ) {
    this.usb = emulator.mcu.usbCtrl;
    this.gap = emulator.mcu.clock.createAlarm(() => {
      this.gapScheduled = false;
      this.startNext();
    });
    this.usb.onUSBEnabled = () => {
      this.setState('enumerating');
      this.usb.resetDevice(); // the host sees the pull-up and resets the bus (10 ms in rp2040js)
    };
    this.usb.onResetReceived = () => this.enumerate();
    this.usb.onEndpointWrite = (endpoint, buffer) => this.endpointWrite(endpoint, buffer);
    this.usb.onEndpointRead = (endpoint, size) => this.endpointRead(endpoint, size);
  }

  /**
   * Plugs the host into the emulated RP2040's USB port. `open` (default true): after enumeration
   * set the line coding (`lineCoding`, default 115200 8N1) and raise DTR and RTS, as a program
   * opening the port does; otherwise stop at 'configured' (a port nobody has opened).
   */
  static attach(emulator: Rp2040Emulator, options: { open?: boolean; lineCoding?: Partial<LineCoding> } = {}): UsbCdcHost {
    const lineCoding = { baud: 115200, stopBits: 0, parity: 0, dataBits: 8, ...options.lineCoding };
    return new UsbCdcHost(emulator, { open: options.open ?? true, lineCoding });
  }

  get state(): UsbHostState {
    return this.stateValue;
  }

  /** Calls `listener` with every non-empty packet the device sends on its bulk IN endpoint. Returns an unsubscribe function. */
  onData(listener: (bytes: Uint8Array) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onStateChange(listener: (state: UsbHostState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Queues bytes for the device's bulk OUT endpoint; they go as the firmware arms it, 64 at a time at most. */
  write(bytes: Uint8Array): void {
    for (const b of bytes) this.txQueue.push(b);
    if (this.outPending > 0) this.serveOut(this.outPending);
  }

  /** Bytes written and not yet taken by the device. */
  get pendingBytes(): number {
    return this.txQueue.length;
  }

  setLineCoding(coding: LineCoding): Promise<void> {
    const data = new Uint8Array(7);
    new DataView(data.buffer).setUint32(0, coding.baud, true);
    data[4] = coding.stopBits;
    data[5] = coding.parity;
    data[6] = coding.dataBits;
    return this.control({ requestType: 0x21, request: CDC_REQUEST.SET_LINE_CODING, value: 0, index: 0, length: 7 }, data).then(
      () => undefined,
    );
  }

  async getLineCoding(): Promise<LineCoding> {
    const data = await this.control({ requestType: 0xa1, request: CDC_REQUEST.GET_LINE_CODING, value: 0, index: 0, length: 7 });
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    return { baud: view.getUint32(0, true), stopBits: data[4], parity: data[5], dataBits: data[6] };
  }

  setControlLineState(lines: { dtr: boolean; rts: boolean }): Promise<void> {
    const value = (lines.dtr ? 1 : 0) | (lines.rts ? 2 : 0);
    return this.control({ requestType: 0x21, request: CDC_REQUEST.SET_CONTROL_LINE_STATE, value, index: 0, length: 0 }).then(() => {
      if (this.stateValue === 'configured' && lines.dtr) this.setState('open');
      else if (this.stateValue === 'open' && !lines.dtr) this.setState('configured');
    });
  }

  /** What a serial library's 1200-baud touch does: open at 1200 baud (line coding, DTR up), then close (DTR down). */
  async touch1200(): Promise<void> {
    await this.setLineCoding({ ...this.options.lineCoding, baud: 1200 });
    await this.setControlLineState({ dtr: true, rts: true });
    await this.setControlLineState({ dtr: false, rts: false });
  }

  /** Any control transfer on EP0; resolves with the IN data stage (empty for OUT requests). */
  control(setup: SetupFields, dataOut?: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve) => {
      this.queue.push({ setup, dataOut, received: [], resolve });
      if (!this.current && !this.gapScheduled) this.startNext();
    });
  }

  // ---- enumeration ----------------------------------------------------------------------

  private enumerate(): void {
    this.queue.length = 0;
    this.current = undefined;
    this.stage = 'idle';
    this.ep0ReadPending = false;
    this.outPending = 0;
    void this.enumeration();
    this.scheduleNext(); // the first request, a moment after the reset
  }

  private async enumeration(): Promise<void> {
    const getDescriptor = (type: number, index: number, length: number, language = 0) =>
      this.control({ requestType: 0x80, request: 6, value: (type << 8) | index, index: language, length });
    await getDescriptor(1, 0, 64); // a host first reads the start of the device descriptor at address 0
    await this.control({ requestType: 0x00, request: 5, value: 1, index: 0, length: 0 }); // SET_ADDRESS 1
    this.device = parseDeviceDescriptor(await getDescriptor(1, 0, 18));
    const header = await getDescriptor(2, 0, 9);
    const totalLength = header[2] | (header[3] << 8);
    this.configuration = parseConfiguration(await getDescriptor(2, 0, totalLength));
    const languages = await getDescriptor(3, 0, 255);
    const language = languages.length >= 4 ? languages[2] | (languages[3] << 8) : 0x0409;
    for (const index of [this.device.manufacturerIndex, this.device.productIndex, this.device.serialNumberIndex]) {
      if (index) this.strings.set(index, parseString(await getDescriptor(3, index, 255, language)));
    }
    const data = this.configuration.interfaces.find((i) => i.interfaceClass === CDC_DATA_CLASS);
    this.dataIn = (data?.endpoints.find((e) => e.address & 0x80 && e.type === 2)?.address ?? -1) & 0x0f;
    this.dataOut = data?.endpoints.find((e) => !(e.address & 0x80) && e.type === 2)?.address ?? -1;
    await this.control({ requestType: 0x00, request: 9, value: this.configuration.value, index: 0, length: 0 }); // SET_CONFIGURATION
    this.setState('configured');
    if (this.options.open) {
      await this.setLineCoding(this.options.lineCoding);
      await this.setControlLineState({ dtr: true, rts: true });
    }
  }

  /** The descriptor strings by role, once enumerated. */
  get names(): { manufacturer?: string; product?: string; serialNumber?: string } {
    const d = this.device;
    if (!d) return {};
    return {
      manufacturer: this.strings.get(d.manufacturerIndex),
      product: this.strings.get(d.productIndex),
      serialNumber: this.strings.get(d.serialNumberIndex),
    };
  }

  // ---- control transfers ----------------------------------------------------------------

  private startNext(): void {
    if (this.current) return;
    const next = this.queue.shift();
    if (!next) return;
    this.current = next;
    const { setup } = next;
    const packet = new Uint8Array(8);
    const view = new DataView(packet.buffer);
    packet[0] = setup.requestType;
    packet[1] = setup.request;
    view.setUint16(2, setup.value, true);
    view.setUint16(4, setup.index, true);
    view.setUint16(6, setup.length, true);
    this.stage = setup.requestType & 0x80 ? 'data-in' : setup.length > 0 ? 'data-out' : 'status-in';
    this.ep0ReadPending = false;
    this.usb.sendSetupPacket(packet);
  }

  private finish(): void {
    const done = this.current!;
    this.current = undefined;
    this.stage = 'idle';
    this.log.push(done.setup);
    done.resolve(Uint8Array.from(done.received));
    if (this.queue.length > 0) this.scheduleNext();
  }

  private scheduleNext(): void {
    this.gapScheduled = true;
    this.gap.schedule(HOST_GAP_NANOS);
  }

  private endpointWrite(endpoint: number, buffer: Uint8Array): void {
    if (endpoint === 0) {
      const t = this.current;
      if (!t) return;
      if (this.stage === 'data-in') {
        t.received.push(...buffer);
        if (t.received.length >= t.setup.length || buffer.length < (this.device?.maxPacketSize0 ?? 64) || buffer.length === 0) {
          this.stage = 'status-out';
          if (this.ep0ReadPending) this.endpointRead(0, 0);
        }
      } else if (this.stage === 'status-in' && buffer.length === 0) {
        this.finish();
      }
      return;
    }
    if (endpoint === this.dataIn && buffer.length > 0) {
      this.bytesReceived += buffer.length;
      for (const listener of this.listeners) listener(buffer);
    }
  }

  private endpointRead(endpoint: number, size: number): void {
    if (endpoint === 0) {
      if (this.stage === 'data-out' && this.current?.dataOut) {
        this.stage = 'status-in';
        this.usb.endpointReadDone(0, this.current.dataOut);
      } else if (this.stage === 'status-out') {
        this.ep0ReadPending = false;
        this.usb.endpointReadDone(0, new Uint8Array(0));
        this.finish();
      } else {
        this.ep0ReadPending = true; // armed before its stage: served when the stage comes
      }
      return;
    }
    if (endpoint === this.dataOut) {
      this.outPending = size;
      if (this.txQueue.length > 0) this.serveOut(size);
    }
  }

  private serveOut(size: number): void {
    const chunk = Uint8Array.from(this.txQueue.splice(0, Math.min(size, 64)));
    this.outPending = 0;
    this.bytesSent += chunk.length;
    this.usb.endpointReadDone(this.dataOut, chunk);
  }

  private setState(state: UsbHostState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    for (const listener of this.stateListeners) listener(state);
  }
}

/**
 * Runs the emulator until `done()` (checked between slices of `sliceCycles`), a breakpoint, or the
 * wall-clock budget. The harness's own `until` looks at UART0's output only.
 */
export async function runUntil(
  emulator: Rp2040Emulator,
  done: () => boolean,
  options: { maxSeconds?: number; sliceCycles?: number } = {},
): Promise<RunResult & { satisfied: boolean }> {
  const deadline = performance.now() + (options.maxSeconds ?? 60) * 1000;
  const sliceCycles = options.sliceCycles ?? 200_000;
  for (;;) {
    const remaining = (deadline - performance.now()) / 1000;
    const result = await emulator.run({ maxCycles: sliceCycles, maxSeconds: Math.max(remaining, 0.001) });
    if (done()) return { ...result, satisfied: true };
    if (result.reason === 'break' || result.reason === 'timeout' || remaining <= 0) return { ...result, satisfied: false };
  }
}

/**
 * The fields of an 18-byte USB device descriptor (GET_DESCRIPTOR, type 1). Throws an Error if `d`
 * is not one: the emulated device answered wrongly.
 */
export function parseDeviceDescriptor(d: Uint8Array): DeviceDescriptor {
  if (d.length < 18 || d[0] !== 18 || d[1] !== 1) throw new Error(`not a USB device descriptor: ${Buffer.from(d).toString('hex')}`);
  const u16 = (i: number) => d[i] | (d[i + 1] << 8);
  return {
    bcdUSB: u16(2),
    deviceClass: d[4],
    deviceSubClass: d[5],
    deviceProtocol: d[6],
    maxPacketSize0: d[7],
    vendorId: u16(8),
    productId: u16(10),
    bcdDevice: u16(12),
    manufacturerIndex: d[14],
    productIndex: d[15],
    serialNumberIndex: d[16],
    configurations: d[17],
  };
}

/**
 * A full USB configuration descriptor (GET_DESCRIPTOR, type 2, wTotalLength bytes) read into its
 * interfaces, endpoints, CDC functional descriptors and interface associations. Throws an Error if
 * malformed.
 */
export function parseConfiguration(raw: Uint8Array): ConfigurationInfo {
  if (raw.length < 9 || raw[1] !== 2) throw new Error(`not a USB configuration descriptor: ${Buffer.from(raw).toString('hex')}`);
  const info: ConfigurationInfo = {
    raw,
    totalLength: raw[2] | (raw[3] << 8),
    value: raw[5],
    attributes: raw[7],
    maxPowerMilliamps: raw[8] * 2,
    interfaces: [],
    associations: [],
  };
  let current: InterfaceDescriptor | undefined;
  for (let i = raw[0]; i + 2 <= raw.length;) {
    const length = raw[i];
    const type = raw[i + 1];
    if (length < 2 || i + length > raw.length) throw new Error(`malformed configuration descriptor at byte ${i}`);
    const d = raw.subarray(i, i + length);
    if (type === 4) {
      current = { number: d[2], interfaceClass: d[5], subClass: d[6], protocol: d[7], endpoints: [], functional: [] };
      info.interfaces.push(current);
    } else if (type === 5 && current) {
      current.endpoints.push({ address: d[2], type: d[3] & 3, maxPacketSize: d[4] | (d[5] << 8), interval: d[6] });
    } else if (type === 0x24 && current) {
      current.functional.push(Uint8Array.from(d));
    } else if (type === 11) {
      info.associations.push({ firstInterface: d[2], count: d[3], functionClass: d[4] });
    }
    i += length;
  }
  return info;
}

function parseString(d: Uint8Array): string {
  if (d.length < 2 || d[1] !== 3) throw new Error(`not a USB string descriptor: ${Buffer.from(d).toString('hex')}`);
  return Buffer.from(d.subarray(2, d[0])).toString('utf16le');
}
