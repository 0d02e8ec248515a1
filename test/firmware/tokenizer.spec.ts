/**
 * The tokenizer with its tables in flash, on the RP2040 in rp2040js: test/firmware/tokenizer/main.c
 * linked with templates/common/tokenizer.c and the tables src/codegen/tokenizer-tables.ts generates
 * (TOKENIZER_TABLES), for tok512.bin and for the 32,000-piece tokenizer.bin. Every text must encode
 * to the ids src/tokenizer gives, and every pair decode to its bytes; the same program with the
 * tokenizer parsed at init (tok512.bin) says what the tables save at boot. Then a stories260K
 * firmware built with --embed-tokenizer: it encodes its baked prompt at reset from those tables and
 * prints the reference engine's text.
 */
import { expect } from 'chai';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { emitTokenizerTables, emitTokenizerTablesHeader } from '../../src/codegen/tokenizer-tables.js';
import { Rp2040Emulator } from '../../src/emulator/rp2040.js';
import { cByteArray } from '../../src/codegen/c-array.js';
import { loadForGeneration } from '../../src/engine/load.js';
import { build } from '../../src/toolchain/build.js';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { runEngine } from '../helpers/engine-run.js';
import { projectRoot } from '../../src/util/project-root.js';
import { modelPath, stories260K, tempDir } from '../helpers/fixtures.js';
import { needs } from '../helpers/needs.js';
import { buildRp2040Program } from '../helpers/rp2040-program.js';

/** Plain words, merges across a sentence, byte fallback (tok512.bin has no "ë"), emoji, control bytes, the empty text. */
const TEXTS = [
  'Once upon a time',
  '',
  'Lily and Tom played in the park. They saw a big dog!',
  'Zoë ate crème brûlée — naïve 日本 🙂',
  'a\tb\nc  d',
  '"Hi," she said? \\ back',
];

/** The C string literal of `text`, every byte escaped in octal. */
function literal(text: string): string {
  return `"${Array.from(Buffer.from(text, 'utf8'), (b) => `\\${b.toString(8).padStart(3, '0')}`).join('')}"`;
}

interface Run {
  encoded: { cycles: number; ids: number[] }[];
  decoded: string[];
  initCycles?: number;
  output: string;
}

describe('the tokenizer in flash (TOKENIZER_TABLES) on the RP2040, in rp2040js', function () {
  needs('stories260K.bin', 'tok512.bin', 'tokenizer.bin', 'arm-none-eabi-gcc', 'make');
  this.timeout(600_000);
  const tmp = tempDir();
  after(() => tmp.cleanup());

  /** Every adjacent pair of every text's ids, and the byte pieces <0x00> and <0xFF> after BOS. */
  function pairsOf(tokenizer: Tokenizer): [number, number][] {
    const pairs: [number, number][] = [
      [1, 3],
      [1, 258],
    ];
    for (const text of TEXTS) {
      const ids = tokenizer.encode(text, true, false);
      for (let i = 1; i < ids.length; i++) pairs.push([ids[i - 1], ids[i]]);
    }
    return pairs;
  }

  /** Builds and runs the program for `file`: with the generated tables, or (`parsed`) parsing the image at init. */
  async function run(name: string, file: 'tok512.bin' | 'tokenizer.bin', vocabSize: number, parsed = false): Promise<Run> {
    const tokenizer = Tokenizer.read(modelPath(file), vocabSize);
    const image = readFileSync(modelPath(file));
    const dir = join(tmp.dir, name);
    mkdirSync(dir, { recursive: true });
    const common = join(projectRoot(), 'templates', 'common');
    for (const f of ['tokenizer.c', 'tokenizer.h']) copyFileSync(join(common, f), join(dir, f));
    writeFileSync(
      join(dir, 'model.h'),
      `#define VOCAB_SIZE ${vocabSize}\n#define TOKENIZER_BYTES ${image.length}\n` +
        `#define TOKENIZER_MAX_TOKEN_LENGTH ${tokenizer.maxTokenLength}\n#define TOKENIZER_TABLES ${parsed ? 0 : 1}\n`,
    );
    writeFileSync(join(dir, 'tokenizer_tables.c'), Buffer.concat([...emitTokenizerTables(tokenizer, '/* test */')]));
    writeFileSync(join(dir, 'tokenizer_tables.h'), emitTokenizerTablesHeader('/* test */'));
    const pairs = pairsOf(tokenizer);
    const maxBytes = Math.max(...TEXTS.map((t) => Buffer.byteLength(t, 'utf8')));
    writeFileSync(
      join(dir, 'cases.h'),
      Buffer.concat([
        Buffer.from(
          `#define MAX_TEXT_BYTES ${maxBytes}\n` +
            `static const char* const texts[] = {${TEXTS.map(literal).join(', ')}};\n` +
            `static const int pairs[][2] = {${pairs.map(([a, b]) => `{${a}, ${b}}`).join(', ')}};\n`,
        ),
        ...(parsed ? [...cByteArray(`static const unsigned char image[${image.length + 1}]`, image)] : []),
      ]),
    );
    const mainC = join(projectRoot(), 'test', 'firmware', 'tokenizer', 'main.c');
    const { uf2 } = buildRp2040Program(dir, mainC, parsed ? ['-DPARSE_AT_INIT'] : [], [
      'tokenizer.c',
      ...(parsed ? [] : ['tokenizer_tables.c']),
    ]);
    const emu = await Rp2040Emulator.load(uf2, { xipModel: true }); // the tables are read through the XIP cache, priced
    const result = await emu.run({ maxSeconds: 300 });
    expect(result.reason, result.output.slice(-500)).to.equal('break');
    expect(result.output).to.match(/done\n$/);
    const lines = result.output.split('\n');
    const init = lines.find((l) => l.startsWith('I '));
    const encoded = lines
      .filter((l) => l.startsWith('E '))
      .map((l) => {
        const [cycles, ...ids] = l.slice(2).split(' ');
        return { cycles: Number(cycles), ids: ids.map(Number) };
      });
    const decoded = lines.filter((l) => l.startsWith('D ')).map((l) => l.slice(2));
    return { encoded, decoded, initCycles: init ? Number(init.split(' ')[1]) : undefined, output: result.output };
  }

  function expectReference(r: Run, file: 'tok512.bin' | 'tokenizer.bin', vocabSize: number): void {
    const tokenizer = Tokenizer.read(modelPath(file), vocabSize);
    expect(r.encoded.map((e) => e.ids)).to.deep.equal(TEXTS.map((t) => tokenizer.encode(t, true, false)));
    expect(r.decoded).to.deep.equal(pairsOf(tokenizer).map(([a, b]) => Buffer.from(tokenizer.decode(a, b)).toString('hex')));
  }

  it("tok512.bin: the reference tokenizer's ids and bytes; the tables save the parse and sort at boot", async () => {
    const tables = await run('tok512', 'tok512.bin', 512);
    expectReference(tables, 'tok512.bin', 512);
    expect(tables.initCycles).to.equal(undefined);
    const parsed = await run('tok512-parsed', 'tok512.bin', 512, true);
    expectReference(parsed, 'tok512.bin', 512);
    expect(parsed.initCycles).to.be.above(100_000);
    console.log(
      `      tok512.bin: tokenizer_init ${parsed.initCycles} cycles (parse and sort) with the image, none with the tables; ` +
        `"${TEXTS[0]}" encodes in ${tables.encoded[0].cycles} cycles from the tables in flash (XIP timing model), ${parsed.encoded[0].cycles} from SRAM`,
    );
  });

  it("tokenizer.bin (32,000 pieces, its 517 KiB of tables in flash): the reference tokenizer's ids and bytes", async () => {
    const r = await run('llama2', 'tokenizer.bin', 32000);
    expectReference(r, 'tokenizer.bin', 32000);
    console.log(`      tokenizer.bin: "${TEXTS[0]}" encodes in ${r.encoded[0].cycles} cycles, "${TEXTS[2]}" in ${r.encoded[2].cycles}`);
  });

  it("stories260K with --embed-tokenizer: the firmware encodes its prompt at reset and prints the reference engine's text", async () => {
    const prompt = 'Zoë saw a dog';
    const loaded = loadForGeneration({ ...stories260K, weights: 'q8_0' }); // the rp2040 target's default, with its group size
    const promptIds = loaded.tokenizer.encode(prompt, true, false);
    const steps = promptIds.length + 1; // two tokens generated
    const out = join(tmp.dir, 'stories260K');
    const log: string[] = [];
    const result = await build(
      {
        target: 'rp2040',
        ...stories260K,
        prompt,
        steps,
        temperature: 0,
        embedTokenizer: true,
        exitAfterGeneration: true,
        stdio: 'uart',
        out,
      },
      (line) => log.push(line),
    );
    // the tables in flash, counted by the plan and measured against the linker's section
    const tables = result.plan.buffers.find((b) => b.name === 'tokenizer_tables')!;
    expect(tables).to.include({ memory: 'flash', role: 'tables' });
    expect(log.join('\n')).to.match(/tokenizer tables \(in flash\)/);
    // SRAM: the merge buffer (2 × 7 + 4 bytes) and the prompt's ids (strlen + 3), nothing per token
    expect(result.plan.buffers.find((b) => b.name === 'tokenizer_scratch')!.bytes).to.equal(18 + 4 * (Buffer.byteLength(prompt) + 3));
    const emu = await Rp2040Emulator.load(join(out, 'firmware.uf2'));
    let firstByte = 0;
    emu.onUartByte(() => (firstByte ||= emu.cycles));
    const run = await emu.run({ maxSeconds: 300 });
    expect(run.reason, run.output.slice(-500)).to.equal('break');

    const engine = runEngine(loaded.model, promptIds, steps, { temperature: 0, topp: 0.9, seed: 1 }, 0, {
      arithmetic: 'integer',
      seqLen: result.plan.seqLen,
    });
    const ids = engine.idLines.map((l) => Number(l.slice(2)));
    expect(ids.length).to.equal(promptIds.length + 2);
    // what the firmware writes: each token's piece after the one before (BOS's own is not printed)
    const expected = Buffer.concat(ids.slice(1).map((id, i) => loaded.tokenizer.decode(ids[i], id)));
    expect(emu.outputBuffer.subarray(0, expected.length).toString('hex')).to.equal(expected.toString('hex'));
    expect(run.output.slice(Buffer.from(expected).toString('utf8').length)).to.match(/^\nachieved tok\/s: /);
    console.log(`      stories260K with the tokenizer embedded: the first byte out after ${firstByte} cycles`);
  });
});
