/**
 * The exported library on the cores QEMU emulates, built with the core's flags (export --core) and
 * a start-up of our own (templates/library/qemu/): the Cortex-M4F on mps2-an386, the Cortex-M7 on
 * mps2-an500 and the Cortex-M33 on mps2-an505 (qemu-system-arm, semihosting; the DSP extension's
 * SXTB16/SMLAD dot products), and
 * RV32IMC with picolibc under qemu-riscv32. A program written against llama2_embed.h alone must
 * print the reference engine's tokens and logits bit for bit, float and integer, greedy and
 * sampled; the c format's example must print llama2.c's text. Few tokens: a few seconds a run.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { loadForGeneration } from '../../src/engine/load.js';
import { coreByName } from '../../src/library/cores.js';
import { buildForEmulator, runOnEmulator } from '../../src/library/emulator.js';
import { exportLibrary } from '../../src/library/export.js';
import { projectRoot } from '../../src/util/project-root.js';
import { parseProgramOutput, runEngine } from '../helpers/engine-run.js';
import { readGoldenFile, stories260K, tempDir } from '../helpers/fixtures.js';
import { needs, requireNeeds, type Need } from '../helpers/needs.js';

type Library = 'f32' | 'q8_0' | 'q8_0-integer';
const SAMPLED = { temperature: '0.8', seed: '7' };
const GREEDY = { temperature: '-1', seed: '1' }; // L2E_TEMPERATURE_GREEDY: any negative temperature
const STEPS = 10;
const LOGIT_POSITIONS = 2;

/** What each run needs: the cross compiler and the emulator of its core. */
const TOOLS: Record<string, Need[]> = {
  'cortex-m4f': ['arm-none-eabi-gcc', 'qemu-system-arm'],
  'cortex-m33': ['arm-none-eabi-gcc', 'qemu-system-arm'],
  'cortex-m7': ['arm-none-eabi-gcc', 'qemu-system-arm'],
  rv32imc: ['riscv64-unknown-elf-gcc', 'qemu-riscv32'],
};

const CASES: { core: string; library: Library; sampling: typeof SAMPLED; portable?: boolean }[] = [
  { core: 'cortex-m4f', library: 'f32', sampling: SAMPLED },
  { core: 'cortex-m4f', library: 'q8_0', sampling: GREEDY },
  { core: 'cortex-m4f', library: 'q8_0-integer', sampling: SAMPLED },
  { core: 'cortex-m33', library: 'f32', sampling: GREEDY },
  { core: 'cortex-m33', library: 'q8_0', sampling: SAMPLED },
  { core: 'cortex-m33', library: 'q8_0-integer', sampling: GREEDY },
  { core: 'cortex-m33', library: 'q8_0-integer', sampling: SAMPLED, portable: true },
  { core: 'cortex-m7', library: 'f32', sampling: SAMPLED },
  { core: 'cortex-m7', library: 'q8_0-integer', sampling: GREEDY },
  { core: 'rv32imc', library: 'q8_0-integer', sampling: GREEDY },
  { core: 'rv32imc', library: 'q8_0-integer', sampling: SAMPLED },
  { core: 'rv32imc', library: 'q8_0', sampling: SAMPLED },
];

describe('the exported library under QEMU: Cortex-M4F, Cortex-M7, Cortex-M33, RV32IMC', function () {
  needs('stories260K.bin', 'tok512.bin');
  this.timeout(300_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());
  const exported = new Map<Library, string>();

  /** The library exported once per precision (the sources are the same for every core). */
  function library(kind: Library): string {
    if (!exported.has(kind)) {
      const quant = kind === 'f32' ? undefined : 'q8_0';
      const arithmetic = kind === 'q8_0-integer' ? 'integer' : 'float';
      exported.set(kind, exportLibrary({ format: 'c', ...stories260K, quant, arithmetic, out: join(tmp.dir, kind) }).outDir);
    }
    return exported.get(kind)!;
  }

  for (const c of CASES) {
    const how = `${c.sampling === GREEDY ? 'greedy' : 'sampled (seed 7)'}${c.portable ? ', the portable dot products' : ''}`;
    it(`${c.core}, ${c.library}, ${how}: the engine's tokens and logits, bit for bit`, function () {
      requireNeeds(this, ...TOOLS[c.core]);
      const core = coreByName(c.core);
      const dir = library(c.library);
      const args = ['One day', String(STEPS), c.sampling.temperature, '0.9', c.sampling.seed, String(LOGIT_POSITIONS)];
      const elf = join(tmp.dir, `${c.core}-${c.library}-${c.sampling.seed}${c.portable ? '-portable' : ''}.elf`);
      buildForEmulator({
        libraryDir: dir,
        core,
        program: join(projectRoot(), 'test', 'library', 'probe.c'),
        args,
        elf,
        extraFlags: c.portable ? ['-DLLAMA2_EMBED_NO_INTRINSICS'] : [],
      });
      const run = runOnEmulator(core, elf, args);
      expect(run.status, `${run.stdout}\n${run.stderr}`).to.equal(0);
      const loaded = loadForGeneration({ ...stories260K, weights: c.library === 'f32' ? undefined : 'q8_0' });
      const engine = runEngine(
        loaded.model,
        loaded.tokenizer.encode('One day', true, false),
        STEPS,
        { temperature: Math.max(0, Number(c.sampling.temperature)), topp: 0.9, seed: Number(c.sampling.seed) },
        LOGIT_POSITIONS,
        { arithmetic: c.library === 'q8_0-integer' ? 'integer' : 'float' },
      );
      const program = parseProgramOutput(run.stdout);
      expect(program.idLines).to.deep.equal(engine.idLines);
      expect(program.idLines.filter((l) => l.startsWith('G '))).to.have.length(STEPS - 2); // positions 2..STEPS-1 each sample one (the prompt is 3 tokens)
      expect(program.logitBits).to.have.length(LOGIT_POSITIONS);
      for (let pos = 0; pos < LOGIT_POSITIONS; pos++)
        expect(Buffer.from(program.logitBits[pos].buffer).equals(Buffer.from(engine.logitBits[pos].buffer)), `logits at ${pos}`).to.equal(
          true,
        );
    });
  }

  for (const coreName of ['cortex-m4f', 'cortex-m33']) {
    it(`${coreName}: the c format's example prints llama2.c's text (greedy, fp32)`, function () {
      requireNeeds(this, ...TOOLS[coreName]);
      const core = coreByName(coreName);
      const dir = library('f32');
      const args = ['-i', 'Once upon a time', '-t', '0', '-n', '40'];
      const elf = join(tmp.dir, `${coreName}-example.elf`);
      buildForEmulator({ libraryDir: dir, core, program: join(dir, 'examples', 'generate', 'main.c'), args, elf });
      const run = runOnEmulator(core, elf, args);
      expect(run.status, run.stderr).to.equal(0);
      expect(run.stderr).to.equal('stories260K.bin (f32), context 512\n');
      // 40 positions of the golden 256: its beginning, then the example's newline
      const golden = readGoldenFile('stories260K_f32_greedy_once_upon_a_time.txt');
      expect(run.stdout.length).to.be.greaterThan(100);
      expect(run.stdout).to.equal(`${golden.slice(0, run.stdout.length - 1)}\n`);
    });
  }
});
