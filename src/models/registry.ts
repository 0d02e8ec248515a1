/**
 * Models that `llama2-embed pull` knows how to fetch, with their public URLs and, where the
 * bytes are known, their sizes and sha256 (pinned from the copies this project was tested with).
 */

export interface KnownFile {
  /** File name in the model cache. */
  name: string;
  url: string;
  sha256?: string;
  bytes?: number;
}

export interface KnownModel {
  name: string;
  description: string;
  checkpoint: KnownFile;
  tokenizer: KnownFile;
}

const TINYLLAMAS = 'https://huggingface.co/karpathy/tinyllamas/resolve/main';

const LLAMA2_TOKENIZER: KnownFile = {
  name: 'tokenizer.bin',
  url: 'https://github.com/karpathy/llama2.c/raw/350e04fe35433e6d2941dce5a1f53308f87058eb/tokenizer.bin',
  sha256: '50a52ef822ee9e83de5ce9d0be0a025a773d019437f58b5ff9dcafb063ece361',
  bytes: 433_869,
};

export const KNOWN_MODELS: readonly KnownModel[] = [
  {
    name: 'stories260K',
    description: 'TinyStories, 260K parameters, 512-token vocabulary (fits a Raspberry Pi Pico)',
    checkpoint: {
      name: 'stories260K.bin',
      url: `${TINYLLAMAS}/stories260K/stories260K.bin`,
      sha256: 'b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696',
      bytes: 1_056_540,
    },
    tokenizer: {
      name: 'tok512.bin',
      url: `${TINYLLAMAS}/stories260K/tok512.bin`,
      sha256: '037cb335abb25d1fa9e8ecae30ed2a3a8ace9302862ebcdc05d51a6bbb10c312',
      bytes: 6_227,
    },
  },
  {
    name: 'stories15M',
    description: 'TinyStories, 15M parameters, Llama 2 tokenizer',
    checkpoint: { name: 'stories15M.bin', url: `${TINYLLAMAS}/stories15M.bin`, bytes: 60_816_028 },
    tokenizer: LLAMA2_TOKENIZER,
  },
  {
    name: 'stories42M',
    description: 'TinyStories, 42M parameters, Llama 2 tokenizer',
    checkpoint: { name: 'stories42M.bin', url: `${TINYLLAMAS}/stories42M.bin` },
    tokenizer: LLAMA2_TOKENIZER,
  },
  {
    name: 'stories110M',
    description: 'TinyStories, 110M parameters, Llama 2 tokenizer',
    checkpoint: { name: 'stories110M.bin', url: `${TINYLLAMAS}/stories110M.bin` },
    tokenizer: LLAMA2_TOKENIZER,
  },
];

/** The known model called `name` (case does not matter, nor a trailing .bin), or undefined. */
export function findKnownModel(name: string): KnownModel | undefined {
  const key = name.replace(/\.bin$/, '').toLowerCase();
  return KNOWN_MODELS.find((m) => m.name.toLowerCase() === key);
}

/** The known file (checkpoint or tokenizer) with this file name, if any. */
export function findKnownFile(fileName: string): { model: KnownModel; file: KnownFile } | undefined {
  for (const model of KNOWN_MODELS) {
    for (const file of [model.checkpoint, model.tokenizer]) {
      if (file.name === fileName) return { model, file };
    }
  }
  return undefined;
}
