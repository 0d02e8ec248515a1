/**
 * The stories260K firmware booted through the RP2040 boot ROM (src/emulator/rp2040.ts with
 * LoadOptions.bootRom), with each of our boot2 variants in its first 256 bytes and each flash
 * chip: the ROM starts boot2, boot2 sets up the SSI, and the firmware, its weights left in flash
 * (read over XIP through the chip model), serves a GENERATE whose tokens are the reference
 * engine's. Two generated tokens each: the boot is what is under test.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBootRom } from '../../src/emulator/boot-rom.js';
import { W25Q128JV, W25Q16JV } from '../../src/emulator/qspi-flash.js';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { loadForGeneration } from '../../src/engine/load.js';
import { BOOT2_VARIANTS, buildBoot2 } from '../../src/firmware-image/boot2.js';
import { encodeMessage, type TokenMessage } from '../../src/serial/protocol.js';
import { build } from '../../src/toolchain/build.js';
import { runEngine } from '../helpers/engine-run.js';
import { stories260K, tempDir } from '../helpers/fixtures.js';
import { deviceMessages } from '../helpers/device-messages.js';
import { needs, requireBootRom } from '../helpers/needs.js';

const stories = stories260K; // looked up when read, after needs()

describe('rp2040 firmware booted through the boot ROM: each boot2, each flash chip, then it serves', function () {
  needs('stories260K.bin', 'tok512.bin', 'arm-none-eabi-gcc', 'make');
  this.timeout(600_000);
  const tmp = tempDir('llama2-embed-bootrom-');
  const firmware = join(tmp.dir, 'flash-weights');
  let rom: Uint8Array;
  let image: Buffer;
  let prompt: number[];
  let expected: string[];
  const sampling = { temperature: 1, topp: 0.9, seed: 7 };
  let steps: number;

  before(async function () {
    requireBootRom(this);
    rom = readBootRom();
    // weights and code left in flash: every weight read goes over XIP, through the SSI's set-up
    await build(
      { target: 'rp2040', ...stories, steps: 0, stdio: 'uart', seqLen: 32, sramWeights: false, sramCode: false, out: firmware },
      () => {},
    );
    image = readFileSync(join(firmware, 'firmware.bin'));
    const loaded = loadForGeneration({ ...stories, weights: 'q8_0' });
    prompt = loaded.tokenizer.encode('Once', true, false);
    steps = prompt.length - 1 + 2;
    expected = runEngine(loaded.model, prompt, steps, sampling, 0, { arithmetic: 'integer' }).idLines;
  });
  after(() => tmp.cleanup());

  for (const variant of BOOT2_VARIANTS) {
    for (const chip of [W25Q16JV, W25Q128JV]) {
      it(`boot2 "${variant}", ${chip.name}: HELLO, then the engine's tokens`, async () => {
        const withBoot2 = Buffer.from(image);
        buildBoot2({ variant }).copy(withBoot2, 0);
        const emu = Rp2040Emulator.fromImage(withBoot2, 0x10000000, { bootRom: rom, flashChip: chip });
        const hello = await emu.run({ until: () => deviceMessages(emu).some((m) => m.type === 'hello'), maxSeconds: 120 });
        expect(hello.reason, hello.output.slice(-300)).to.equal('until');
        expect(emu.boot).to.include({ chip: chip.name, xipVerified: true });
        emu.writeUart(
          encodeMessage({
            type: 'generate',
            requestId: 1,
            steps,
            temperature: sampling.temperature,
            topp: sampling.topp,
            seed: BigInt(sampling.seed),
            prompt,
          }),
        );
        const done = await emu.run({ until: () => deviceMessages(emu).some((m) => m.type === 'done'), maxSeconds: 300 });
        expect(done.reason, done.output.slice(-300)).to.equal('until');
        const tokens = deviceMessages(emu).filter((m): m is TokenMessage => m.type === 'token');
        expect(tokens.map((t) => `${t.generated ? 'G' : 'P'} ${t.token}`)).to.deep.equal(expected);
      });
    }
  }

  it("boots an image larger than the Pico's 2 MB on the 16 MB W25Q128JV without being told (a --flash-size 16M build)", async () => {
    const big = Buffer.alloc(2 * 1024 * 1024 + 4096); // the firmware, then zeros past 2 MB
    image.copy(big, 0);
    buildBoot2({ variant: 'quad' }).copy(big, 0);
    const emu = Rp2040Emulator.fromImage(big, 0x10000000, { bootRom: rom });
    const hello = await emu.run({ until: () => deviceMessages(emu).some((m) => m.type === 'hello'), maxSeconds: 120 });
    expect(hello.reason, hello.output.slice(-300)).to.equal('until');
    expect(emu.boot).to.include({ chip: W25Q128JV.name, xipVerified: true });
    // the Pico's chip still, for an image that fits it
    const small = Rp2040Emulator.fromImage(image, 0x10000000, { bootRom: rom });
    await small.run({ until: () => deviceMessages(small).some((m) => m.type === 'hello'), maxSeconds: 120 });
    expect(small.boot).to.include({ chip: W25Q16JV.name });
  });
});
