/**
 * `export --format arduino`: an Arduino library (the 1.5 format): library.properties, everything
 * in src/ (Arduino compiles src/ and puts it on the include path), examples/Generate/Generate.ino.
 * Arduino gives a library no compiler flags: l2e_private.h asks GCC for exact float32 itself.
 */
import { hashComment, type LibraryFormat, type PackageInfo } from './format.js';

/** library.properties' fields, in the order the specification lists them. */
export function libraryProperties(info: PackageInfo): Record<string, string> {
  return {
    name: info.name,
    version: info.version,
    author: 'llama2-embed',
    maintainer: 'llama2-embed',
    sentence: `Runs the llama2.c model ${info.modelName} on the board: generates text with no heap, the model compiled in.`,
    paragraph: `The model, its tokenizer and its fixed-size state are compiled in (${info.summary.quant}, ${info.summary.weightsBytes} bytes of weights in flash, ${info.summary.stateBytes} bytes of RAM). l2e_generate() streams the tokens to a callback; the same seed gives the same tokens on every board.`,
    category: 'Data Processing',
    url: 'https://github.com/karpathy/llama2.c',
    architectures: 'rp2040,mbed_rp2040,esp32,samd,mbed_nano,renesas_uno',
    includes: 'llama2_embed.h',
  };
}

function properties(info: PackageInfo): string {
  const fields = Object.entries(libraryProperties(info)).map(([k, v]) => `${k}=${v}`);
  return `${hashComment(info, "An Arduino library: copy this directory into your sketchbook's libraries/ folder.")}${fields.join('\n')}\n`;
}

function example(info: PackageInfo): string {
  return `/*
 * Tells a story with ${info.modelName} at start-up and prints it on the serial monitor (115200 baud)
 * as it is generated.
 */
#include <llama2_embed.h>

/* Called with each token's text as it is generated; returning non-zero would stop the story. */
static int printPiece(const char *piece, int token, void *user) {
  (void)token;
  (void)user;
  Serial.print(piece);
  return 0;
}

void setup() {
  Serial.begin(115200);
  while (!Serial) {
  }
  int status = l2e_init(); /* checks the weights: one pass over them */
  if (status != L2E_OK) {
    Serial.println(l2e_strerror(status));
    return;
  }
  l2e_params params = {}; /* llama2.c's defaults: 256 steps, temperature 1.0, top-p 0.9; seed 42 */
  Serial.print("Once upon a time");
  int generated = l2e_generate("Once upon a time", &params, printPiece, nullptr);
  Serial.println();
  if (generated < 0) Serial.println(l2e_strerror(generated));
}

void loop() {
}
`;
}

export const arduinoFormat: LibraryFormat = {
  name: 'arduino',
  description: 'an Arduino library: library.properties, src/, examples/Generate/Generate.ino',
  includeDir: 'src',
  srcDir: 'src',
  packageFiles: (info) => ({
    'library.properties': properties(info),
    'examples/Generate/Generate.ino': example(info),
  }),
};
