/**
 * The Raspberry Pi targets end to end on this machine: build stories260K (fp32, Q8_0) and a random
 * model with stories15M's shapes (Q8_0) for rpi4, rpi5 and rpi-zero2 with aarch64-linux-gnu-gcc,
 * run the programs under qemu-aarch64 with each board's CPU, and demand llama2.c's goldens, the
 * reference engine's tokens and its logits bit for bit, on 1 and 2 threads; and a Pi 5 build must
 * refuse a CPU without dot product with a clear message instead of dying of SIGILL.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { writeCheckpoint } from '../../src/checkpoint/write.js';
import { loadForGeneration } from '../../src/engine/load.js';
import { makePlan } from '../../src/plan/plan.js';
import { loadTarget } from '../../src/plan/target.js';
import { quantizeModel } from '../../src/quant/schemes.js';
import { DeviceSession } from '../../src/serial/session.js';
import type { TokenMessage } from '../../src/serial/protocol.js';
import { build, type BuildRequest } from '../../src/toolchain/build.js';
import { goldenIdFiles, goldenSettings } from '../helpers/goldens.js';
import { parseProgramOutput, runEngine, type EngineRun } from '../helpers/engine-run.js';
import { modelPath, readGoldenFile, readGoldenIds, tempDir, stories260K } from '../helpers/fixtures.js';
import { randomModel, STORIES110M, STORIES15M } from '../helpers/random-model.js';
import { functionsUsing, PI_BOARDS, runQemu, runQemuOk } from './qemu.js';
import { needs } from '../helpers/needs.js';

const quiet = () => {};
const MiB = 1024 * 1024;

function expectSameLogits(program: EngineRun, engine: EngineRun, positions: number): void {
  expect(program.logitBits).to.have.length(positions);
  for (let pos = 0; pos < positions; pos++) {
    expect(
      Buffer.from(program.logitBits[pos].buffer).equals(Buffer.from(engine.logitBits[pos].buffer)),
      `logits at position ${pos}`,
    ).to.equal(true);
  }
}

describe('pi targets: the board descriptions', () => {
  it('are AArch64 Linux programs, static, with threads, NEON, and the C compiler told not to contract or reassociate', () => {
    for (const { target: name, cpu } of PI_BOARDS) {
      const t = loadTarget(name);
      expect(t, name).to.include({ output: 'executable', threads: true });
      expect(t.cpu, name).to.include({ cores: 4, fpu: true });
      expect(t.cpu.features, name).to.include('neon');
      expect(t.toolchain.cc, name).to.equal('aarch64-linux-gnu-gcc');
      expect(t.toolchain.cflags, name).to.include.members(['-std=c11', '-O3', '-ffp-contract=off', '-fno-fast-math', '-static']);
      expect(
        t.toolchain.cflags.find((f) => f.startsWith('-mcpu=')),
        name,
      ).to.match(new RegExp(`^-mcpu=${cpu}`));
      expect(t.toolchain.ldflags, name).to.deep.equal(['-lm', '-lpthread']);
      expect(t.placement).to.deep.equal({ weights: 'ram', state: 'ram' });
    }
  });

  it('only the Pi 5 has dot product, enabled per function (LLAMA2_EMBED_DOTPROD), never for the whole program', () => {
    for (const { target: name } of PI_BOARDS) {
      const t = loadTarget(name);
      const dotprod = name === 'rpi5';
      expect(t.cpu.features!.includes('dotprod'), name).to.equal(dotprod);
      expect(t.toolchain.cflags.includes('-DLLAMA2_EMBED_DOTPROD'), name).to.equal(dotprod);
      // -mcpu=cortex-a76 alone implies +dotprod: GCC would put SDOT wherever it vectorizes
      if (dotprod) expect(t.toolchain.cflags).to.include('-mcpu=cortex-a76+nodotprod');
    }
  });

  it("gives the model the board's RAM less what the GPU and the OS keep, and stories110M Q8_0 fits every board at its full context", () => {
    const ram = Object.fromEntries(PI_BOARDS.map(({ target }) => [target, loadTarget(target).memories[0].bytes]));
    expect(ram).to.deep.equal({ 'rpi-zero2': 512 * MiB - 160 * MiB, rpi4: 4096 * MiB - 512 * MiB, rpi5: 8192 * MiB - 1024 * MiB });
    for (const { target } of PI_BOARDS) {
      const plan = makePlan(loadTarget(target), STORIES110M, { weights: 'q8_0', groupSize: 64, sharedClassifier: true });
      expect(plan.fits, `${target}: ${plan.problems.join('; ')}`).to.equal(true);
      expect(plan.seqLen).to.equal(STORIES110M.seqLen);
    }
  });
});

describe('pi targets: cross-built programs under qemu-aarch64 against the engine and llama2.c', function () {
  needs('stories260K.bin', 'tok512.bin', 'tokenizer.bin', 'aarch64-linux-gnu-gcc', 'qemu-aarch64', 'make');
  this.timeout(900_000);
  const tmp = tempDir('llama2-embed-pi-');
  after(() => tmp.cleanup());
  const stories = stories260K; // looked up when read, after needs()
  // each program is built once, by whichever test needs it first
  const builds = new Map<string, Promise<string>>();
  const buildFor = (target: string, req: Omit<BuildRequest, 'target' | 'out'>, name: string): Promise<string> => {
    const out = join(tmp.dir, `${target}-${name}`);
    if (!builds.has(out))
      builds.set(
        out,
        build({ target, ...req, out }, quiet).then((r) => r.info.executable),
      );
    return builds.get(out)!;
  };
  const stories260KQ8gs4 = (target: string) => buildFor(target, { ...stories, quant: 'q8_0', groupSize: 4 }, 'q8_0-4');
  const stories260KQ8 = (target: string) => buildFor(target, { ...stories, quant: 'q8_0' }, 'q8_0-default');

  // the random stories15M-shape model and the engine's run of it, shared by the boards
  let random15M = '';
  let random15MEngine: EngineRun;
  const randomPrompt = 'Once upon a time, there was';
  const randomArgs = ['-i', randomPrompt, '-n', '24', '-t', '1', '-p', '0.9', '-s', '3', '--format', 'ids', '--dump-logits', '4'];
  before(() => {
    const model = quantizeModel(randomModel(STORIES15M, 15), 'q8_0', { groupSize: 32 }).model;
    random15M = join(tmp.dir, 'random15M-q8_0.bin');
    writeCheckpoint(random15M, model, 'v2');
    const loaded = loadForGeneration({ model: random15M, tokenizer: modelPath('tokenizer.bin') });
    random15MEngine = runEngine(
      loaded.model,
      loaded.tokenizer.encode(randomPrompt, true, false),
      24,
      { temperature: 1, topp: 0.9, seed: 3 },
      4,
    );
  });

  for (const { target, cpu } of PI_BOARDS) {
    describe(`${target} under -cpu ${cpu}`, () => {
      for (const [weights, groupSize] of [
        ['f32', undefined],
        ['q8_0', 4],
      ] as const) {
        it(`stories260K ${weights}${groupSize ? ` group size ${groupSize}` : ''}: llama2.c's goldens on 1 and 2 threads`, async () => {
          const program = await (groupSize ? stories260KQ8gs4(target) : buildFor(target, { ...stories, quant: weights }, weights));
          const files = goldenIdFiles().filter((f) => goldenSettings(f).weights === weights && goldenSettings(f).groupSize === groupSize);
          expect(files.length).to.be.greaterThan(0);
          for (const file of files) {
            const s = goldenSettings(file);
            const args = [
              '-i',
              s.prompt,
              '-n',
              '256',
              '-t',
              String(s.temperature),
              '-p',
              String(s.topp),
              '-s',
              String(s.seed),
              '--format',
              'ids',
            ];
            const golden = readGoldenFile(file);
            expect(runQemuOk(cpu, program, [...args, '--threads', '1']), `${file}, 1 thread`).to.equal(golden);
            expect(runQemuOk(cpu, program, [...args, '--threads', '2']), `${file}, 2 threads`).to.equal(golden);
          }
        });
      }

      it('stories260K Q8_0 (default group size): logits of the first 16 positions bit-identical to the engine, tokens equal, 1 and 2 threads', async () => {
        const program = await stories260KQ8(target);
        const loaded = loadForGeneration({ ...stories, weights: 'q8_0' });
        const engine = runEngine(
          loaded.model,
          loaded.tokenizer.encode('One day', true, false),
          200,
          { temperature: 0.8, topp: 0.9, seed: 7 },
          16,
        );
        for (const threads of ['1', '2']) {
          const args = [
            '-i',
            'One day',
            '-n',
            '200',
            '-t',
            '0.8',
            '-p',
            '0.9',
            '-s',
            '7',
            '--format',
            'ids',
            '--dump-logits',
            '16',
            '--threads',
            threads,
          ];
          const c = parseProgramOutput(runQemuOk(cpu, program, args));
          expectSameLogits(c, engine, 16);
          expect(c.idLines, `${threads} thread(s)`).to.deep.equal(engine.idLines);
        }
      });

      it("a random model with stories15M's shapes, Q8_0: tokens and logits equal the engine's on 1 and 2 threads", async () => {
        const program = await buildFor(target, { model: random15M, tokenizer: modelPath('tokenizer.bin') }, 'random15M');
        for (const threads of ['1', '2']) {
          const c = parseProgramOutput(runQemuOk(cpu, program, [...randomArgs, '--threads', threads]));
          expectSameLogits(c, random15MEngine, 4);
          expect(c.idLines, `${threads} thread(s)`).to.deep.equal(random15MEngine.idLines);
        }
      });
    });
  }

  describe('rpi5: dot product per function, checked at run time', () => {
    let program = '';
    before(async () => {
      program = await stories260KQ8gs4('rpi5');
    });

    it('has SDOT in dot_q8_rows4 and nowhere else (group size 64); the rpi4 program has none', async () => {
      // (with group size 4 every call is shorter than a vector: GCC specializes the SDOT away)
      const users = functionsUsing(await stories260KQ8('rpi5'), 'sdot');
      expect(users.size).to.be.greaterThan(0);
      for (const fn of users.keys()) expect(fn, 'a function using SDOT').to.match(/^dot_q8_rows4/);
      expect(functionsUsing(await stories260KQ8('rpi4'), 'sdot').size).to.equal(0);
    });

    for (const cpu of ['cortex-a72', 'cortex-a53']) {
      it(`refuses a ${cpu} (no dot product) with a clear message and exit code 1, not SIGILL, in every mode`, () => {
        for (const args of [['-i', 'Once upon a time', '-t', '0'], ['--protocol'], ['--threads', '2']]) {
          const r = runQemu(cpu, program, args, '');
          expect(r.signal, `${args.join(' ')}: ${r.stderr}`).to.equal(null);
          expect(r.status, args.join(' ')).to.equal(1);
          expect(r.stdout).to.equal('');
          expect(r.stderr.trim()).to.equal(
            'llama2: this program was built for rpi5 (dot product instructions); this CPU lacks them: build with --target rpi4 (--target rpi-zero2 for a Pi Zero 2)',
          );
        }
      });
    }
  });

  it("rpi4 --protocol under qemu: HELLO, then a golden's tokens through DeviceSession, as a Pi's stdio over SSH will carry them", async () => {
    const program = await stories260KQ8gs4('rpi4');
    const child = spawn('qemu-aarch64', ['-cpu', 'cortex-a72', program, '--protocol'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const session = new DeviceSession(
        { fromDevice: child.stdout, toDevice: child.stdin },
        { helloTimeoutMs: 30_000, responseTimeoutMs: 60_000 },
      );
      const hello = await session.hello();
      expect(hello).to.include({ weights: 'q8_0', groupSize: 4, seqLen: 512, modelName: 'stories260K.bin', targetName: 'rpi4' });
      const file = 'stories260K_q8gs4_greedy_once_upon_a_time.ids';
      const s = goldenSettings(file);
      const golden = readGoldenIds(file);
      const tokens: TokenMessage[] = [];
      const loaded = loadForGeneration({ ...stories, weights: 'q8_0', groupSize: 4 });
      await session.generate(
        { prompt: loaded.tokenizer.encode(s.prompt, true, false), steps: 256, temperature: s.temperature, topp: s.topp, seed: s.seed },
        (t) => tokens.push(t),
      );
      expect(tokens.filter((t) => t.generated).map((t) => t.token)).to.deep.equal(golden.generated);
      session.close(); // ends the program's stdin: it exits
      expect(await exited).to.equal(0);
    } finally {
      if (child.exitCode === null) child.kill();
    }
  });
});
