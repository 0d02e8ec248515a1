/** The ecosystems `export --format` knows, by name. */
import { UserError } from '../../util/errors.js';
import { arduinoFormat } from './arduino.js';
import { cFormat } from './c.js';
import { espIdfFormat } from './esp-idf.js';
import { picoSdkFormat } from './pico-sdk.js';
import { platformioFormat } from './platformio.js';
import { zephyrFormat } from './zephyr.js';
import type { LibraryFormat } from './format.js';

export const LIBRARY_FORMATS: readonly LibraryFormat[] = [
  cFormat,
  picoSdkFormat,
  arduinoFormat,
  platformioFormat,
  espIdfFormat,
  zephyrFormat,
];

/** The names `export --format` accepts, in the order they are listed. */
export function knownFormats(): string[] {
  return LIBRARY_FORMATS.map((f) => f.name);
}

/** The library format called `name`; an unknown name is a UserError (exit code 2) listing the formats. */
export function formatByName(name: string): LibraryFormat {
  const format = LIBRARY_FORMATS.find((f) => f.name === name);
  if (!format) {
    const list = LIBRARY_FORMATS.map((f) => `  ${f.name.padEnd(10)} ${f.description}`).join('\n');
    throw new UserError(`unknown --format "${name}". The formats export knows:\n${list}`, 2);
  }
  return format;
}
