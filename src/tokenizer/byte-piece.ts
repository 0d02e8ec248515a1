/**
 * The two C library details of run.c's decoding: recognising a byte piece such as "<0x0A>" with
 * `sscanf(piece, "<0x%02hhX>", &byte)`, and `safe_printf`'s test for a lone printable byte with
 * `isprint`/`isspace` in the C locale.
 */

const LT = 0x3c; // '<'
const ZERO = 0x30; // '0'
const X = 0x78; // 'x'

/**
 * The byte a piece stands for, if `sscanf(piece, "<0x%02hhX>", ...)` returns 1 for it, else
 * undefined. As in C: the literal "<0x", then blanks are skipped, then at most two characters of
 * an optionally signed hexadecimal number are read; the closing '>' is not checked (sscanf stops
 * before it). `piece` is a C string (no NUL inside).
 */
export function bytePieceValue(piece: Uint8Array): number | undefined {
  if (piece.length < 4 || piece[0] !== LT || piece[1] !== ZERO || piece[2] !== X) return undefined;
  let i = 3;
  while (i < piece.length && isSpaceC(piece[i])) i++;
  let width = 2;
  let negative = false;
  if (piece[i] === 0x2b || piece[i] === 0x2d) {
    negative = piece[i] === 0x2d;
    i++;
    width--;
  }
  let value = 0;
  let digits = 0;
  for (; width > 0 && i < piece.length; i++, width--) {
    const digit = hexDigit(piece[i]);
    if (digit === undefined) break;
    value = value * 16 + digit;
    digits++;
  }
  if (digits === 0) return undefined;
  return (negative ? -value : value) & 0xff; // %hhX stores an unsigned char
}

/** `isprint` in the C locale: ' ' to '~'. */
export function isPrintC(byte: number): boolean {
  return byte >= 0x20 && byte <= 0x7e;
}

/** `isspace` in the C locale: ' ', '\t', '\n', '\v', '\f', '\r'. */
export function isSpaceC(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

function hexDigit(c: number): number | undefined {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return undefined;
}
