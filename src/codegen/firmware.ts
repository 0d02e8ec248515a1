/**
 * The parts of a C project that only firmware targets have: the board's runtime (boot2, startup,
 * clocks, UART from firmware/<chip>/), the linker script, the generation baked in at build time
 * (generation.h), and a Makefile for the cross compiler. After `make`, the UF2 image.
 */
import { copyFileSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { buildBoot2, checkBoot2, firmwareDir } from '../firmware-image/boot2.js';
import { rp2040LinkerScript } from '../firmware-image/linker-script.js';
import { encodeUf2 } from '../firmware-image/uf2.js';
import { clockDefines, clockSetup } from '../plan/rp2040-clock.js';
import type { FirmwareStdio, Target } from '../plan/target.js';
import { tempPathFor, writeFileAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { floatLiteral } from './kernel-compiler.js';

/** What the firmware generates at reset. */
export interface BakedGeneration {
  /** The prompt's text: a firmware with the tokenizer embedded encodes it at reset (default ''). */
  prompt?: string;
  /** The prompt tokenized on the host (BOS first): what a firmware without the tokenizer runs. */
  promptTokens: number[];
  steps: number;
  temperature: number;
  topp: number;
  seed: bigint;
  /** Compile the tokenizer in and print text; otherwise print token ids for the host to decode. */
  embedTokenizer: boolean;
  /**
   * Return from main() (a BKPT, where the emulator stops) after the baked generation, instead of
   * serving the serial protocol forever (the tests' firmware). Steps 0: no baked generation at all.
   */
  exitAfterGeneration: boolean;
  /** Where the protocol and the printing go: the board's USB port (CDC serial), UART0, or both (default usb). */
  stdio?: FirmwareStdio;
}

export const FIRMWARE_OUTPUTS = { elf: 'firmware.elf', bin: 'firmware.bin', uf2: 'firmware.uf2', map: 'firmware.map' };

/**
 * The largest protocol frame a firmware accepts (decoded bytes; protocol.h's PROTOCOL_MAX_FRAME):
 * its receive buffer, in SRAM. 256 takes prompts of up to 116 tokens.
 */
export const FIRMWARE_PROTOCOL_MAX_FRAME = 256;

/** The runtime sources of a chip (firmware/<chip>/), compiled into every firmware for it. */
function runtimeSources(chip: string): string[] {
  return readdirSync(firmwareDir(chip)).filter((f) => /\.(c|S|h)$/.test(f));
}

/** `text` as a C string literal: printable ASCII as itself, every other byte an octal escape. */
export function cStringLiteral(text: string): string {
  let literal = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    literal += byte >= 0x20 && byte < 0x7f && c !== '"' && c !== '\\' && c !== '?' ? c : `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return `"${literal}"`;
}

/**
 * Refuses (UserError) a prompt that a firmware encoding it at reset (`embedTokenizer`) cannot hold:
 * one with a NUL byte, where its C string would end.
 */
export function checkBakedPrompt(prompt: string, embedTokenizer: boolean): void {
  if (embedTokenizer && prompt.includes('\0')) {
    throw new UserError(
      'the prompt holds a NUL byte, and a firmware with --embed-tokenizer encodes its prompt as a C string, which ends there: remove it, or build without --embed-tokenizer (the host then tokenizes it).',
      2,
    );
  }
}

/**
 * generation.h: the generation a firmware runs at reset (the prompt's text, which a firmware with
 * the tokenizer encodes itself, and its tokens from the host for one without; steps, temperature,
 * top-p, seed) and where its stdio goes (USB CDC, UART0 or both). Throws an Error if the prompt
 * lacks even BOS (a bug in the caller, which always tokenizes one in), a UserError for a prompt
 * with a NUL byte when the firmware encodes it (its C string would end there).
 */
export function emitGenerationHeader(g: BakedGeneration, header: string): string {
  if (g.promptTokens.length < 1) throw new Error('a baked generation needs at least BOS');
  const prompt = g.prompt ?? '';
  checkBakedPrompt(prompt, g.embedTokenizer);
  return `${header}
#ifndef LLAMA2_EMBED_GENERATION_H
#define LLAMA2_EMBED_GENERATION_H

/* the prompt, as text (encoded at reset with EMBED_TOKENIZER) and tokenized on the host at build time (BOS first) */
#define GENERATION_PROMPT ${cStringLiteral(prompt)}
#define GENERATION_PROMPT_TOKENS { ${g.promptTokens.join(', ')} }
#define GENERATION_STEPS ${g.steps}
#define GENERATION_TEMPERATURE ${floatLiteral(Math.fround(g.temperature))}
#define GENERATION_TOPP ${floatLiteral(Math.fround(g.topp))}
#define GENERATION_SEED ${g.seed}ULL
#define EMBED_TOKENIZER ${g.embedTokenizer ? 1 : 0}
/* 1: main() returns after the baked generation; 0: then it serves the protocol (doc/protocol.md) */
#define EXIT_AFTER_GENERATION ${g.exitAfterGeneration ? 1 : 0}
/* where the protocol and the printing go (build --stdio ${g.stdio ?? 'usb'}): the USB port (CDC serial), UART0 */
#define STDIO_USB ${(g.stdio ?? 'usb') !== 'uart' ? 1 : 0}
#define STDIO_UART ${(g.stdio ?? 'usb') !== 'usb' ? 1 : 0}

#endif
`;
}

/**
 * Copies the runtime, writes the linker script and boot2; returns the sources for the Makefile.
 * `sramCode`: whether the plan made room for the target's SRAM code (FirmwareSpec.sramCode).
 */
export function emitFirmwareRuntime(outDir: string, target: Target, tool: string, sramCode: boolean): string[] {
  const fw = target.firmware;
  if (!fw) throw new Error(`target ${target.name} has no firmware description`);
  const sources = runtimeSources(fw.chip);
  for (const file of sources) {
    const tmp = tempPathFor(join(outDir, file));
    copyFileSync(join(firmwareDir(fw.chip), file), tmp);
    renameSync(tmp, join(outDir, file));
  }
  writeFileAtomic(join(outDir, 'memmap.ld'), [
    Buffer.from(
      rp2040LinkerScript({
        flashBytes: fw.flashBytes,
        stackBytes: fw.stackBytes,
        generatedBy: tool,
        sramCode: sramCode ? fw.sramCode : [],
      }),
      'utf8',
    ),
  ]);
  buildBoot2({ variant: fw.boot2, outFile: join(outDir, 'boot2.bin') });
  return sources.filter((f) => !f.endsWith('.h'));
}

/** An RP2040 firmware's clock: clk_sys, the PLL_SYS dividers and the core voltage, as -D flags (src/plan/rp2040-clock.ts). */
function rp2040ClockFlags(target: Target): string {
  const fw = target.firmware;
  if (fw?.chip !== 'rp2040') return '';
  return ` ${clockDefines(clockSetup(fw.clockHz, fw.boot2)).join(' ')}`;
}

/**
 * The Makefile written beside a firmware's sources, so that `make` there rebuilds firmware.elf and
 * firmware.bin with the target's cross compiler and flags (boot2 variant, RP2040 clock setup).
 * `runtime` and `application` are the .c/.S file names to compile; `tool` names the generator.
 */
export function firmwareMakefile(target: Target, tool: string, runtime: string[], application: string[]): string {
  const t = target.toolchain;
  const objects = [...runtime, ...application].map((f) => f.replace(/\.(c|S)$/, '.o'));
  return `# Generated by ${tool} for target ${target.name}. Do not edit: run llama2-embed build again.
# \`make\` rebuilds the firmware from the sources in this directory with the cross compiler.

CC = ${t.cc}
OBJCOPY = ${t.cc.replace(/gcc$/, 'objcopy')}
CFLAGS = ${t.cflags.join(' ')} -DPROTOCOL_MAX_FRAME=${FIRMWARE_PROTOCOL_MAX_FRAME}${target.firmware?.boot2 === 'quad' ? ' -DBOOT2_QUAD' : ''}${rp2040ClockFlags(target)}
LDFLAGS = ${t.ldflags.join(' ')}
OBJECTS = ${objects.join(' ')}

${FIRMWARE_OUTPUTS.bin}: ${FIRMWARE_OUTPUTS.elf}
\t$(OBJCOPY) -O binary $< $@

${FIRMWARE_OUTPUTS.elf}: $(OBJECTS) memmap.ld
\t$(CC) $(CFLAGS) -o $@ $(OBJECTS) $(LDFLAGS)

forward.o: forward.c forward.h kernels.h model.h parallel.h
forward_parallel.o: forward_parallel.c kernels_parallel.h model.h parallel.h
main.o: main.c forward.h model.h generation.h llama2_embed.h l2e_private.h parallel.h protocol.h protocol_server.h rp2040.h usb.h
llama2_embed.o: llama2_embed.c llama2_embed.h l2e_private.h blobs.h forward.h model.h generation.h
protocol.o: protocol.c protocol.h
protocol_server.o: protocol_server.c protocol_server.h protocol.h forward.h model.h
tokenizer.o: tokenizer.c tokenizer.h tokenizer_tables.h model.h
tokenizer_tables.o: tokenizer_tables.c tokenizer_tables.h model.h
blobs.o: blobs.S weights.bin
boot2_image.o: boot2_image.S boot2.bin

%.o: %.c
\t$(CC) $(CFLAGS) -c -o $@ $<

%.o: %.S
\t$(CC) $(CFLAGS) -c -o $@ $<

clean:
\trm -f $(OBJECTS) ${Object.values(FIRMWARE_OUTPUTS).join(' ')}

.PHONY: clean
`;
}

/** After make: checks boot2's CRC in the flat image and writes the UF2 next to it. */
export function finishFirmware(outDir: string): { uf2: string; bin: string; imageBytes: number } {
  const bin = join(outDir, FIRMWARE_OUTPUTS.bin);
  const image = readFileSync(bin);
  try {
    checkBoot2(image, bin);
  } catch (err) {
    throw new UserError(
      `${(err as Error).message}\nThe bootrom would refuse to boot this image; this is a bug in the build, please report it.`,
    );
  }
  const uf2 = join(outDir, FIRMWARE_OUTPUTS.uf2);
  writeFileAtomic(uf2, [encodeUf2(image)]);
  return { uf2, bin, imageBytes: image.length };
}
