/**
 * The device's C side (templates/common/protocol.c), compiled here with a test harness under
 * AddressSanitizer and UBSan: fed the same random, damaged and hostile streams as the
 * TypeScript decoder, it must report the same frames, errors and request checks; frames it
 * encodes must be the bytes the host encodes, and decode on the host to what was asked. Also
 * compiled for a Cortex-M0+ when arm-none-eabi-gcc is here, to show it needs no libc but string.h.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../src/util/project-root.js';
import {
  checkGenerate,
  decodeFrame,
  encodeFrame,
  encodeMessage,
  ErrorCode,
  FrameDecoder,
  FrameType,
  GENERATE_FIXED,
  MAX_FRAME,
  parseMessage,
  type DecoderEvent,
  type Message,
} from '../../src/serial/protocol.js';
import { tempDir } from '../helpers/fixtures.js';
import { cancelArb, concat, doneArb, errorArb, helloArb, helloRequestArb, messageArb, tokenArb } from './arbitraries.js';
import { needs, requireNeeds } from '../helpers/needs.js';

const VOCAB = 600;

function compile(dir: string, name: string, defines: string[] = []): string {
  const common = join(projectRoot(), 'templates', 'common');
  copyFileSync(join(projectRoot(), 'test', 'serial', 'protocol-harness.c'), join(dir, 'harness.c'));
  const exe = join(dir, name);
  const flags = [
    '-std=c99',
    '-pedantic',
    '-Wall',
    '-Wextra',
    '-Werror',
    '-g',
    '-O1',
    '-fsanitize=address,undefined',
    '-fno-sanitize-recover=all',
  ];
  execFileSync('cc', [...flags, ...defines, `-I${common}`, '-o', exe, join(dir, 'harness.c'), join(common, 'protocol.c')], {
    stdio: 'pipe',
  });
  return exe;
}

function run(exe: string, args: string[], input: Uint8Array | string): { stdout: Buffer; stderr: string } {
  const r = spawnSync(exe, args, { input, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${exe} ${args.join(' ')} exited with ${r.status}: ${r.stderr.toString()}`);
  return { stdout: r.stdout, stderr: r.stderr.toString() };
}

const hex = (b: Uint8Array) => (b.length ? Buffer.from(b).toString('hex') : '-');
const f32bits = (x: number) => {
  const v = new DataView(new ArrayBuffer(4));
  v.setFloat32(0, x, true);
  return v.getUint32(0, true).toString(16).padStart(8, '0');
};

/** What the harness should print for a stream: the TypeScript decoder and checks, in its format. */
function expectedLines(stream: Uint8Array, maxFrame: number, maxPrompt: number): string[] {
  const lines: string[] = [];
  const events: DecoderEvent[] = new FrameDecoder(maxFrame).push(stream);
  for (const e of events) {
    if (e.kind === 'error') {
      lines.push(`E ${e.code} ${e.detail}`);
      continue;
    }
    lines.push(`F ${e.type} ${hex(e.payload)}`);
    if (e.type === FrameType.GENERATE) {
      const id = e.payload.length >= 2 ? e.payload[0] | (e.payload[1] << 8) : 0;
      const r = parseMessage(e.type, e.payload);
      if ('error' in r) {
        lines.push(`G err ${r.error.code} ${r.error.detail} ${id}`);
        continue;
      }
      const g = r.message;
      if (g.type !== 'generate') throw new Error('not a GENERATE');
      const problem = checkGenerate(g, { maxPromptTokens: maxPrompt, vocabSize: VOCAB });
      if (problem) lines.push(`G err ${problem.code} ${problem.detail} ${id}`);
      else lines.push(`G ok ${g.requestId} ${g.steps} ${f32bits(g.temperature)} ${f32bits(g.topp)} ${g.seed} ${g.prompt.join(' ')}`);
    } else if (e.type === FrameType.CANCEL) {
      const r = parseMessage(e.type, e.payload);
      lines.push('error' in r ? `C err ${r.error.code}` : `C ok ${(r.message as { requestId: number }).requestId}`);
    }
  }
  return lines;
}

/** Requests of every kind, good and bad, as a device receives them. */
const requestArb = (maxPrompt: number) =>
  fc.oneof(
    helloRequestArb.map(encodeMessage),
    cancelArb.map(encodeMessage),
    fc
      .record({
        requestId: fc.integer({ min: 0, max: 0xffff }),
        steps: fc.integer({ min: 0, max: 0xffff }),
        temperature: fc.oneof(fc.constantFrom(0, 0.8, 1, -1, -0, NaN, Infinity, -Infinity), fc.float()),
        topp: fc.oneof(fc.constantFrom(0, 0.9, 1, 1.0001, -0.5, NaN), fc.float()),
        seed: fc.oneof(fc.constantFrom(0n, 1n, 42n, (1n << 64n) - 1n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
        prompt: fc.array(fc.oneof(fc.integer({ min: 0, max: VOCAB - 1 }), fc.integer({ min: 0, max: 0xffff })), {
          minLength: 1,
          maxLength: maxPrompt + 3,
        }),
      })
      .map((g) => encodeMessage({ type: 'generate', ...g })),
    // a GENERATE of the wrong length, a CANCEL of the wrong length
    fc
      .uint8Array({ maxLength: GENERATE_FIXED + 1 })
      .map((p) => encodeFrame(FrameType.GENERATE, p.length % 2 === 0 && p.length >= GENERATE_FIXED ? p.subarray(1) : p)),
    fc
      .uint8Array({ maxLength: 5 })
      .filter((p) => p.length !== 2)
      .map((p) => encodeFrame(FrameType.CANCEL, p)),
    messageArb.map(encodeMessage),
    fc
      .record({ type: fc.integer({ min: 0, max: 255 }), payload: fc.uint8Array({ maxLength: 600 }) })
      .map((f) => encodeFrame(f.type, f.payload)),
  );

/** A stream with garbage, lone delimiters, flipped bits and cut frames between good requests. */
const streamArb = (maxPrompt: number) =>
  fc
    .array(
      fc.oneof(
        { weight: 4, arbitrary: requestArb(maxPrompt) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 80 }) },
        { weight: 1, arbitrary: fc.constant(Uint8Array.of(0)) },
        {
          weight: 1,
          arbitrary: fc.tuple(requestArb(maxPrompt), fc.nat(), fc.integer({ min: 0, max: 7 })).map(([f, at, bit]) => {
            const bad = f.slice();
            bad[at % bad.length] ^= 1 << bit;
            return bad;
          }),
        },
        { weight: 1, arbitrary: fc.tuple(requestArb(maxPrompt), fc.nat()).map(([f, cut]) => f.subarray(0, cut % f.length)) },
      ),
      { maxLength: 12 },
    )
    .map(concat);

describe('serial: the device side in C against the host side', function () {
  needs('cc');
  this.timeout(600_000);
  const tmp = tempDir('llama2-embed-protocol-c-');
  after(() => tmp.cleanup());
  let harness = '';
  let small = '';
  before(() => {
    harness = compile(tmp.dir, 'harness');
    small = compile(tmp.dir, 'harness64', ['-DPROTOCOL_MAX_FRAME=64']);
  });

  for (const [label, maxFrame] of [
    ['default 512-byte frames', MAX_FRAME],
    ['PROTOCOL_MAX_FRAME=64', 64],
  ] as const) {
    it(`decodes and checks random, damaged streams exactly as the host does (${label})`, () => {
      const maxPrompt = Math.floor((maxFrame - 3 - GENERATE_FIXED) / 2);
      const exe = maxFrame === MAX_FRAME ? harness : small;
      fc.assert(
        fc.property(streamArb(maxPrompt), (stream) => {
          const c = run(exe, ['decode', String(maxPrompt), String(VOCAB)], stream)
            .stdout.toString()
            .split('\n')
            .filter(Boolean);
          expect(c).to.deep.equal(expectedLines(stream, maxFrame, maxPrompt));
        }),
        { numRuns: 150 },
      );
    });
  }

  it('decodes one long random stream of 1 MB without crashing, as the host does', () => {
    const bytes = new Uint8Array(1 << 20);
    let s = 12345;
    for (let i = 0; i < bytes.length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      bytes[i] = s >>> 24 < 8 ? 0 : s >>> 16; // about one delimiter in 32 bytes
    }
    const c = run(harness, ['decode', '244', String(VOCAB)], bytes)
      .stdout.toString()
      .split('\n')
      .filter(Boolean);
    expect(c.length).to.be.greaterThan(1000);
    expect(c).to.deep.equal(expectedLines(bytes, MAX_FRAME, 244));
  });

  it('reports the boundary cases of the spec with the same codes', () => {
    const lines = (bytes: number[]) =>
      run(harness, ['decode', '244', String(VOCAB)], Uint8Array.from(bytes))
        .stdout.toString()
        .trim()
        .split('\n');
    expect(lines([0x01, 0x00, 0x03, 0x01, 0x02, 0x00, 0x05, 0x01, 0x00])).to.deep.equal([
      `E ${ErrorCode.TRUNCATED} 1`,
      `E ${ErrorCode.TRUNCATED} 3`,
      `E ${ErrorCode.TRUNCATED} 2`,
    ]);
    expect(lines([0x05, 0x01, 0x02, 0x03, 0x04, 0x00])).to.deep.equal([`E ${ErrorCode.BAD_CRC} 5`]);
    const big = encodeFrame(0x42, new Uint8Array(MAX_FRAME - 2).fill(9));
    expect(lines([...big])).to.deep.equal([`E ${ErrorCode.OVERSIZED} ${big.length - 1}`]);
  });

  const deviceMessageArb = fc.oneof(helloArb, tokenArb, doneArb, errorArb);

  function command(m: Message): string {
    switch (m.type) {
      case 'hello': {
        const dims = [m.dim, m.hiddenDim, m.nLayers, m.nHeads, m.nKvHeads, m.vocabSize, m.seqLen, m.groupSize];
        return `hello ${m.weightsCode} ${m.maxPromptTokens} ${m.maxFrame} ${m.modelHash} ${dims.join(' ')} ${hex(Buffer.from(m.targetName))} ${hex(Buffer.from(m.modelName))}`;
      }
      case 'token':
        return `token ${m.requestId} ${m.position} ${m.token} ${m.generated ? 1 : 0} ${m.stepMicros}`;
      case 'done':
        return `done ${m.requestId} ${m.reasonCode} ${m.positions} ${m.generated} ${m.totalMicros}`;
      case 'error':
        return `error ${m.code} ${m.requestId} ${m.detail} ${hex(Buffer.from(m.message))}`;
      default:
        throw new Error(`not a device message: ${m.type}`);
    }
  }

  it('encodes HELLO, TOKEN, DONE and ERROR byte for byte as the host does, and the host reads them back', () => {
    fc.assert(
      fc.property(fc.array(deviceMessageArb, { minLength: 1, maxLength: 10 }), (ms) => {
        const bytes = run(harness, ['encode'], ms.map(command).join('\n') + '\n').stdout;
        expect(hex(bytes)).to.equal(hex(concat(ms.map(encodeMessage))));
        const events = new FrameDecoder().push(bytes);
        expect(events.map((e) => (e.kind === 'frame' ? (decodeFrame(e) as { message: Message }).message : e))).to.deep.equal(ms);
      }),
      { numRuns: 100 },
    );
  });

  it('encodes any frame that fits its transmit buffer as the host does, and refuses larger ones', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 157 }), (type, payload) => {
        const out = run(harness, ['encode'], `frame ${type} ${hex(payload)}\n`);
        expect(hex(out.stdout)).to.equal(hex(encodeFrame(type, payload)));
      }),
      { numRuns: 100 },
    );
    const zeros = run(harness, ['encode'], `frame 1 ${'00'.repeat(157)}\n`);
    expect(hex(zeros.stdout)).to.equal(hex(encodeFrame(1, new Uint8Array(157))));
    const tooLarge = run(harness, ['encode'], `frame 1 ${'11'.repeat(158)}\n`);
    expect(tooLarge.stdout.length).to.equal(0);
    expect(tooLarge.stderr).to.contain('refused');
  });

  it('cuts names and messages that are too long to their limits', () => {
    const out = run(
      harness,
      ['encode'],
      `error 7 3 4 ${'41'.repeat(100)}\nhello 1 10 512 0011223344556677 1 2 3 4 5 6 7 8 ${'42'.repeat(40)} ${'43'.repeat(80)}\n`,
    ).stdout;
    const [error, hello] = new FrameDecoder()
      .push(out)
      .map((e) => (e.kind === 'frame' ? (decodeFrame(e) as { message: Message }).message : e));
    expect(error).to.include({ type: 'error', message: 'A'.repeat(64) });
    expect(hello).to.include({ type: 'hello', targetName: 'B'.repeat(32), modelName: 'C'.repeat(64), modelHash: '0011223344556677' });
  });

  it('builds for a Cortex-M0+ with nothing from libc but memcpy and strlen (if arm-none-eabi-gcc is installed)', function () {
    requireNeeds(this, 'arm-none-eabi-gcc');
    const common = join(projectRoot(), 'templates', 'common');
    const object = join(tmp.dir, 'protocol-m0.o');
    execFileSync(
      'arm-none-eabi-gcc',
      [
        '-std=c99',
        '-pedantic',
        '-Wall',
        '-Wextra',
        '-Werror',
        '-mcpu=cortex-m0plus',
        '-mthumb',
        '-Os',
        '-ffreestanding',
        '-c',
        '-o',
        object,
        join(common, 'protocol.c'),
      ],
      { stdio: 'pipe' },
    );
    const undefinedSymbols = execFileSync('arm-none-eabi-nm', ['-u', object], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim().split(/\s+/).pop() ?? '')
      .filter(Boolean);
    expect(undefinedSymbols.filter((s) => !s.startsWith('__aeabi_') && s !== 'memcpy' && s !== 'strlen')).to.deep.equal([]);
    const size = execFileSync('arm-none-eabi-size', [object], { encoding: 'utf8' }).split('\n')[1].trim().split(/\s+/).map(Number);
    expect(size[0], 'code bytes').to.be.below(4096);
    expect(size[1] + size[2], 'static RAM bytes').to.be.at.most(256);
  });
});
