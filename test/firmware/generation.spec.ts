/**
 * The stories260K firmware (the RP2040's default: Q8_0, integer kernels) serving generation
 * requests over its emulated UART0: the
 * protocol's GENERATE in, a TOKEN per position and a DONE out (doc/protocol.md). Its tokens must
 * be the reference engine's for 64 generated tokens, also with the XIP cache model on (only the
 * cycle counts grow), and for a request that runs to the end of the context, where the firmware
 * stops at SEQ_LEN, says so in its DONE, and goes on serving.
 *
 * The 64-token requests go to a build with --seq-len 256; a position costs some 4 to 6 million
 * cycles and rp2040js runs some 20 million a second here (less on a busy machine), so the run to
 * the end of the context uses a build with --seq-len 96.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { readElfFunctions } from '../../src/emulator/elf-symbols.js';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { loadForGeneration } from '../../src/engine/load.js';
import { encodeMessage, type Done, type Generate, type Hello, type Message, type TokenMessage } from '../../src/serial/protocol.js';
import { build } from '../../src/toolchain/build.js';
import { runEngine } from '../helpers/engine-run.js';
import { tempDir, stories260K } from '../helpers/fixtures.js';
import { deviceMessages } from '../helpers/device-messages.js';
import { needs } from '../helpers/needs.js';

const stories = stories260K; // looked up when read, after needs()
const PROMPT = 'Once upon a time';

/** Boots the firmware until its HELLO. */
async function boot(emu: Rp2040Emulator): Promise<Hello> {
  const run = await emu.run({ until: () => deviceMessages(emu).some((m) => m.type === 'hello'), maxSeconds: 60 });
  expect(run.reason).to.equal('until');
  return deviceMessages(emu).find((m): m is Hello => m.type === 'hello')!;
}

/** Sends a GENERATE and runs the firmware until its DONE; the TOKENs and the DONE of that request. */
async function generate(
  emu: Rp2040Emulator,
  request: Omit<Generate, 'type'>,
  maxSeconds: number,
): Promise<{ tokens: TokenMessage[]; done: Done; cycles: number }> {
  const before = deviceMessages(emu).length;
  const startCycles = emu.cycles;
  emu.writeUart(encodeMessage({ type: 'generate', ...request }));
  const isDone = (m: Message): m is Done => m.type === 'done' && m.requestId === request.requestId;
  const run = await emu.run({ until: () => deviceMessages(emu).slice(before).some(isDone), maxSeconds });
  expect(run.reason, run.output.slice(-300)).to.equal('until');
  const said = deviceMessages(emu).slice(before);
  const errors = said.filter((m) => m.type === 'error');
  expect(errors, JSON.stringify(errors)).to.deep.equal([]);
  return { tokens: said.filter((m): m is TokenMessage => m.type === 'token'), done: said.find(isDone)!, cycles: emu.cycles - startCycles };
}

/** Where the linker put a function (its first byte). */
function symbolAddress(elf: string, name: string): number {
  const f = readElfFunctions(elf).functions.find((x) => x.name === name);
  if (!f) throw new Error(`${elf} has no function ${name}`);
  return f.address;
}

function idLines(tokens: TokenMessage[]): string[] {
  return tokens.map((t) => `${t.generated ? 'G' : 'P'} ${t.token}`);
}

describe('rp2040 firmware: generation requests over the emulated UART, against the reference engine', function () {
  needs('stories260K.bin', 'tok512.bin', 'arm-none-eabi-gcc', 'make');
  this.timeout(1_800_000);
  const tmp = tempDir('llama2-embed-generation-');
  const serving = join(tmp.dir, 'serving');
  // the same firmware with a shorter context, to run to its end in reasonable time
  const shortContext = join(tmp.dir, 'short-context');
  const SHORT_SEQ_LEN = 96;
  // the serving firmware again, all its weights and code left in flash (--no-sram-weights --no-sram-code)
  const flashOnly = join(tmp.dir, 'flash-only');
  let xipRun = { misses: 0, codeMisses: 0 };
  let loaded: ReturnType<typeof loadForGeneration>;
  let prompt: number[];
  const sampling = { temperature: 1, topp: 0.9, seed: 7 };
  let steps: number; // 64 sampled tokens after the prompt
  let plain: { tokens: TokenMessage[]; done: Done; cycles: number };

  before(async () => {
    loaded = loadForGeneration({ ...stories, weights: 'q8_0' });
    prompt = loaded.tokenizer.encode(PROMPT, true, false);
    steps = prompt.length - 1 + 64;
    // UART0 (the firmware's default is USB); the default kernels, the integer ones the engine below runs
    await build({ target: 'rp2040', ...stories, steps: 0, stdio: 'uart', seqLen: 256, out: serving }, () => {});
    await build({ target: 'rp2040', ...stories, steps: 0, stdio: 'uart', seqLen: SHORT_SEQ_LEN, out: shortContext }, () => {});
    await build(
      { target: 'rp2040', ...stories, steps: 0, stdio: 'uart', seqLen: 256, sramWeights: false, sramCode: false, out: flashOnly },
      () => {},
    );
  });
  after(() => tmp.cleanup());

  const request = (requestId: number, positions: number): Omit<Generate, 'type'> => ({
    requestId,
    steps: positions,
    temperature: sampling.temperature,
    topp: sampling.topp,
    seed: BigInt(sampling.seed),
    prompt,
  });

  it("64 sampled tokens: the engine's, position for position", async () => {
    const emu = await Rp2040Emulator.load(join(serving, 'firmware.uf2'));
    const hello = await boot(emu);
    expect(hello.seqLen).to.be.at.least(steps + 1);
    plain = await generate(emu, request(1, steps), 1200);
    const engine = runEngine(loaded.model, prompt, steps, sampling, 0, { arithmetic: 'integer' });
    expect(idLines(plain.tokens)).to.deep.equal(engine.idLines);
    expect(plain.tokens.filter((t) => t.generated)).to.have.length(64);
    expect(plain.done).to.include({ reason: 'steps', positions: steps, generated: 64 });
  });

  it('the same with the XIP cache model on: the same tokens, only slower (and the profiler sees where the time goes)', async () => {
    const emu = await Rp2040Emulator.load(join(serving, 'firmware.uf2'), { xipModel: true, profile: { intervalCycles: 9973 } });
    await boot(emu);
    emu.resetCounters();
    const modelled = await generate(emu, request(2, steps), 1500);
    expect(idLines(modelled.tokens)).to.deep.equal(idLines(plain.tokens));
    expect(modelled.done).to.include({ reason: 'steps', positions: steps });
    // the firmware's own timer runs on the stalled cycles too
    expect(modelled.done.totalMicros).to.be.greaterThan(plain.done.totalMicros);
    const xip = emu.xipReport!;
    expect(xip.lineFill?.cycles).to.equal(384); // the default (safe) boot2: 03h at clk_sys / 4
    expect(xip.misses).to.be.greaterThan(0);
    // a share of reads, not of time: 88 % (99.6 % before) since sampling stopped running soft float from
    // flash (millions of cached instruction fetches a token); the misses are the weights' line fills
    expect(xip.hitRate).to.be.within(0.8, 1);
    expect(xip.stallCycles).to.equal(xip.misses * 384);
    xipRun = { misses: xip.misses, codeMisses: xip.fetch.misses };
    expect(modelled.cycles).to.be.greaterThan(plain.cycles + xip.stallCycles * 0.9);
    const profile = emu.profile!;
    expect(profile.inlineInfo).to.equal(true);
    expect(profile.shares.matmul).to.be.greaterThan(0.2);
    expect(profile.shares.attention).to.be.greaterThan(0.01);
    expect(profile.shares.unattributed).to.be.below(0.05);
    expect(profile.shares.matmul + profile.shares.attention + profile.shares.rest + profile.shares.unattributed).to.be.closeTo(1, 1e-9);
  });

  it('weights and code copied to SRAM at boot (the default at --seq-len 256) are the same, read without flash misses', async () => {
    const emu = await Rp2040Emulator.load(join(flashOnly, 'firmware.uf2'), { xipModel: true });
    await boot(emu);
    emu.resetCounters();
    const fromFlash = await generate(emu, request(2, steps), 1500);
    expect(idLines(fromFlash.tokens)).to.deep.equal(idLines(plain.tokens));
    // w1 and w2 alone are 110 KiB of the 289 KiB read per token: far fewer line fills with them in SRAM
    expect(xipRun.misses).to.be.greaterThan(0);
    expect(emu.xipReport!.misses).to.be.greaterThan(xipRun.misses * 1.3);
    // the forward pass runs from SRAM in the default build, from flash in this one: its
    // instruction fetches stop missing (the rest, libgcc and the runtime, a fraction of them)
    expect(symbolAddress(join(serving, 'firmware.elf'), 'forward')).to.be.within(0x20000000, 0x20042000);
    expect(symbolAddress(join(flashOnly, 'firmware.elf'), 'forward')).to.be.within(0x10000000, 0x11000000);
    expect(emu.xipReport!.fetch.misses).to.be.greaterThan(xipRun.codeMisses * 4);
  });

  it('runs to the end of the context (--seq-len 96): stops at SEQ_LEN, says so, and serves the next request', async () => {
    const emu = await Rp2040Emulator.load(join(shortContext, 'firmware.uf2'));
    const hello = await boot(emu);
    const seqLen = hello.seqLen;
    expect(seqLen).to.equal(SHORT_SEQ_LEN);
    const result = await generate(emu, request(3, 0), 1500); // steps 0: the whole context
    const engine = runEngine(loaded.model, prompt, seqLen, sampling, 0, { arithmetic: 'integer', seqLen });
    expect(engine.idLines).to.not.include('G 1'); // no BOS: the context, not the story, ends this run
    expect(idLines(result.tokens)).to.deep.equal(engine.idLines);
    expect(result.tokens.at(-1)!.position).to.equal(seqLen);
    expect(result.done).to.include({ reason: 'steps', positions: seqLen });
    // and it is still serving
    const before = deviceMessages(emu).length;
    emu.writeUart(encodeMessage({ type: 'hello-request', hostVersion: 1 }));
    const run = await emu.run({
      until: () =>
        deviceMessages(emu)
          .slice(before)
          .some((m) => m.type === 'hello'),
      maxSeconds: 30,
    });
    expect(run.reason).to.equal('until');
  });
});
