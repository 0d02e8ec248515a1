/**
 * The runtime's weight stream (firmware/rp2040/weight_stream.c) in the emulator with its XIP
 * stream FIFO and paced DMA (src/emulator/xip-stream.ts, dma-pacing.ts): segments of several sizes
 * taken round after round through a ring they wrap around, every byte equal to the flash's
 * (test/firmware/weight-stream/main.c), with the flash timing of the quad and the safe boot2.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { projectRoot } from '../../src/util/project-root.js';
import { tempDir } from '../helpers/fixtures.js';
import { buildRp2040Program } from '../helpers/rp2040-program.js';
import { needs } from '../helpers/needs.js';

/** The bytes one round of the test firmware's table takes. */
const ROUND_BYTES = 4096 + 128 + 2752 + 344 + 64 + 4 + 8 + 6000;
const ROUNDS = 6;

describe('rp2040: weights streamed by DMA from the XIP stream into an SRAM ring', function () {
  needs('arm-none-eabi-gcc', 'make');
  this.timeout(120_000);
  const tmp = tempDir('llama2-embed-weight-stream-');
  after(() => tmp.cleanup());

  it("hands out every segment in order with the flash's bytes, wrapping around the ring", async () => {
    const { uf2 } = buildRp2040Program(
      tmp.dir,
      join(projectRoot(), 'test', 'firmware', 'weight-stream', 'main.c'),
      [],
      ['weight_stream.c'],
    );
    for (const xipModel of [false, true]) {
      const emu = await Rp2040Emulator.load(uf2, { xipModel });
      const result = await emu.run({ maxSeconds: 60 });
      expect(result).to.include({ reason: 'break', exitCode: 0 });
      expect(result.output).to.not.match(/mismatch round=/);
      expect(result.output).to.match(/checked=48\nmismatches=0/);
      const report = emu.streamReport;
      // every word taken came through the stream and the DMA (the stream runs ahead by at most the ring)
      expect(report.words).to.be.within((ROUNDS * ROUND_BYTES) / 4, (ROUNDS * ROUND_BYTES + 8192) / 4);
      // the DMA has moved all but what the FIFO holds when the run stops (2 words at most)
      expect(report.dma.transfers).to.be.within(report.words - 2, report.words);
      expect(report.underflows).to.equal(0);
      if (xipModel) expect(result.runCycles).to.be.at.least((ROUNDS * ROUND_BYTES * report.wordCycles) / 4);
    }
  });
});
