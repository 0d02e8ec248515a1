/**
 * The bounded KV cache (src/engine/kv-window.ts) in both engines: exact while the text fits the
 * sinks and the window, an approximation from the first position that it forgets, and the ring's
 * rows. The generated C is held to the same engines in test/codegen/kv-window.spec.ts.
 */
import { expect } from 'chai';
import { loadForGeneration } from '../../src/engine/load.js';
import type { ForwardPass } from '../../src/engine/generate.js';
import { checkKvWindow, kvCacheRows, kvLastRow, kvRow, parseKvWindow, type KvWindow } from '../../src/engine/kv-window.js';
import { Transformer } from '../../src/engine/transformer.js';
import { IntTransformer } from '../../src/engine/transformer-int.js';
import { stories260K } from '../helpers/fixtures.js';
import { userError } from '../helpers/errors.js';
import { needs } from '../helpers/needs.js';

/** The float32 bit patterns of the logits at positions 0 … count-1 for `tokens` fed in order. */
function logitBits(engine: ForwardPass, tokens: number[], count: number): string[] {
  return tokens.slice(0, count).map((token, pos) => Buffer.from(Float32Array.from(engine.forward(token, pos)).buffer).toString('hex'));
}

describe('bounded KV cache (--kv-window)', () => {
  describe('SINKS+WINDOW', () => {
    it('parses the sinks and the window', () => {
      expect(parseKvWindow('4+60')).to.deep.equal({ sinks: 4, window: 60 });
      expect(parseKvWindow(' 0 + 32 ')).to.deep.equal({ sinks: 0, window: 32 });
    });
    for (const bad of ['64', '4+0', '4-60', '-1+8', '4+', '+8', '4.5+8', 'four+sixty', '']) {
      it(`refuses "${bad}" with the form it expects`, () => {
        const e = userError(() => parseKvWindow(bad));
        expect(e.exitCode).to.equal(2);
        expect(e.message).to.contain('--kv-window must be SINKS+WINDOW').and.contain('e.g. --kv-window 4+60').and.contain(`got "${bad}"`);
      });
    }
    it('refuses a window that holds the whole context (it would change nothing)', () => {
      const e = userError(() => checkKvWindow({ sinks: 4, window: 60 }, 64, '--seq-len'));
      expect(e.message).to.contain('keeps 64 positions, and --seq-len is 64 positions').and.contain('Leave --kv-window out');
      expect(() => checkKvWindow({ sinks: 4, window: 59 }, 64, '--seq-len')).not.to.throw();
    });
  });

  it('keeps position t in row t until the cache is full, then the sinks, then the ring over the oldest', () => {
    const kv: KvWindow = { sinks: 2, window: 3 };
    const rows = kvCacheRows(100, kv);
    expect(rows).to.equal(5);
    expect(Array.from({ length: 12 }, (_, pos) => kvRow(pos, rows, kv))).to.deep.equal([0, 1, 2, 3, 4, 2, 3, 4, 2, 3, 4, 2]);
    expect(Array.from({ length: 8 }, (_, pos) => kvLastRow(pos, rows))).to.deep.equal([0, 1, 2, 3, 4, 4, 4, 4]);
    // no sinks: a plain sliding window
    expect(Array.from({ length: 6 }, (_, pos) => kvRow(pos, 3, { sinks: 0, window: 3 }))).to.deep.equal([0, 1, 2, 0, 1, 2]);
    // without a window, or a window as long as the context: a row per position
    expect(kvCacheRows(100, undefined)).to.equal(100);
    expect(kvCacheRows(4, kv)).to.equal(4);
    expect(kvRow(99, 100, undefined)).to.equal(99);
  });

  describe('stories260K', () => {
    needs('stories260K.bin', 'tok512.bin');
    const kv: KvWindow = { sinks: 4, window: 12 };
    let tokens: number[] = [];
    let f32: ReturnType<typeof loadForGeneration>;
    let q8: ReturnType<typeof loadForGeneration>;
    before(() => {
      f32 = loadForGeneration(stories260K);
      q8 = loadForGeneration({ ...stories260K, weights: 'q8_0' });
      // a text longer than the window: the prompt, then the tokens of a story
      tokens = f32.tokenizer.encode(
        'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.',
        true,
        false,
      );
      expect(tokens.length).to.be.above(kv.sinks + kv.window + 4);
    });

    const engines: [string, () => [ForwardPass, ForwardPass]][] = [
      ['float, f32', () => [new Transformer(f32.model, 64), new Transformer(f32.model, 64, kv)]],
      ['integer, Q8_0', () => [new IntTransformer(q8.model, 64), new IntTransformer(q8.model, 64, { kvWindow: kv })]],
    ];
    for (const [name, make] of engines) {
      it(`${name}: logits bit-identical to the full cache while the text fits 4+12, different from position 16 on`, () => {
        const [full, bounded] = make();
        const a = logitBits(full, tokens, tokens.length);
        const b = logitBits(bounded, tokens, tokens.length);
        const rows = kv.sinks + kv.window;
        expect(b.slice(0, rows)).to.deep.equal(a.slice(0, rows));
        // position 16 is the first to attend without position 4 (the ring's first overwritten row)
        for (let pos = rows; pos < tokens.length; pos++) expect(b[pos], `logits at position ${pos}`).not.to.equal(a[pos]);
      });
    }

    it('a cache as long as the context is the full cache (row t is position t all along)', () => {
      const full = new Transformer(f32.model, 24);
      const same = new Transformer(f32.model, 24, { sinks: 4, window: 40 });
      expect(same.cacheRows).to.equal(24);
      expect(logitBits(same, tokens, 24)).to.deep.equal(logitBits(full, tokens, 24));
    });

    it('the cache holds SINKS + WINDOW rows per layer whatever the context', () => {
      const c = f32.model.config;
      const bounded = new Transformer(f32.model, c.seqLen, kv);
      const rowFloats = (c.nLayers * (c.dim * c.nKvHeads)) / c.nHeads;
      expect(bounded.state.keyCache.length).to.equal(16 * rowFloats);
      expect(new Transformer(f32.model).state.keyCache.length).to.equal(c.seqLen * rowFloats);
      const int = new IntTransformer(q8.model, c.seqLen, { kvWindow: kv });
      expect(int.state.keyCache.length).to.equal(16 * rowFloats);
      expect(int.state.att.length).to.equal(16);
    });
  });
});
