/**
 * The functions of a firmware ELF (32-bit, little-endian: arm-none-eabi's output), for mapping
 * program counters to names: the symbol table read in TypeScript (`readElfFunctions`), and, for
 * code the compiler inlined, the chain of inlined functions at an address from the debug
 * information through the toolchain's addr2line (`inlinedAt`), when the ELF has it (-g).
 *
 * ELF32 layout used (System V ABI): the header's e_shoff (0x20), e_shentsize (0x2e), e_shnum
 * (0x30), e_shstrndx (0x32); section headers of 40 bytes (sh_name, sh_type, …, sh_offset at
 * 0x10, sh_size 0x14, sh_link 0x18, sh_entsize 0x24); SHT_SYMTAB = 2 whose sh_link is its string
 * table; symbols of 16 bytes (st_name, st_value, st_size, st_info, st_other, st_shndx) with
 * STT_FUNC = 2 in the low nibble of st_info. Thumb function addresses have bit 0 set.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface ElfFunction {
  name: string;
  /** First byte (the Thumb bit cleared). */
  address: number;
  size: number;
}

export interface ElfFunctions {
  /** Sorted by address; aliases at one address keep the first name in symbol-table order. */
  functions: ElfFunction[];
  /** The ELF has DWARF debug information (a .debug_info section). */
  hasDebugInfo: boolean;
}

const SHT_SYMTAB = 2;
const STT_FUNC = 2;

function fail(what: string, message: string): never {
  throw new Error(`${what}: ${message}`);
}

/** Reads the function symbols of an ELF32 little-endian file (bytes or a path). */
export function readElfFunctions(file: Uint8Array | string): ElfFunctions {
  const what = typeof file === 'string' ? file : 'the ELF image';
  const bytes = typeof file === 'string' ? readFileSync(file) : file;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 52 || view.getUint32(0) !== 0x7f454c46) fail(what, 'not an ELF file');
  if (bytes[4] !== 1 || bytes[5] !== 1) fail(what, `expected a 32-bit little-endian ELF (class ${bytes[4]}, data ${bytes[5]})`);
  const shoff = view.getUint32(0x20, true);
  const shentsize = view.getUint16(0x2e, true);
  const shnum = view.getUint16(0x30, true);
  const shstrndx = view.getUint16(0x32, true);
  if (shoff === 0 || shentsize < 40 || shoff + shnum * shentsize > bytes.length)
    fail(what, 'no section headers (or they lie outside the file)');
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return {
      name: view.getUint32(at, true),
      type: view.getUint32(at + 4, true),
      offset: view.getUint32(at + 0x10, true),
      size: view.getUint32(at + 0x14, true),
      link: view.getUint32(at + 0x18, true),
      entsize: view.getUint32(at + 0x24, true),
    };
  };
  const cString = (offset: number) => {
    let end = offset;
    while (end < bytes.length && bytes[end] !== 0) end++;
    return Buffer.from(bytes.subarray(offset, end)).toString('latin1');
  };
  const names = section(shstrndx);
  let hasDebugInfo = false;
  let symtab: ReturnType<typeof section> | undefined;
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (cString(names.offset + s.name) === '.debug_info') hasDebugInfo = true;
    if (s.type === SHT_SYMTAB) symtab = s;
  }
  if (!symtab) fail(what, 'no symbol table (was it stripped?)');
  const strings = section(symtab.link);
  const entsize = symtab.entsize || 16;
  const seen = new Map<number, ElfFunction>();
  for (let at = symtab.offset; at + 16 <= symtab.offset + symtab.size; at += entsize) {
    const info = bytes[at + 12];
    if ((info & 0xf) !== STT_FUNC) continue;
    const address = view.getUint32(at + 4, true) & ~1;
    const size = view.getUint32(at + 8, true);
    const name = cString(strings.offset + view.getUint32(at, true));
    const known = seen.get(address);
    if (!known || (known.size === 0 && size > 0)) seen.set(address, { name, address: address >>> 0, size });
  }
  const functions = [...seen.values()].sort((a, b) => a.address - b.address);
  return { functions, hasDebugInfo };
}

/**
 * The function containing `address`, by binary search: the last one starting at or below it,
 * if the address lies within its size (a symbol of size 0 covers up to the next symbol).
 */
export function functionAt(functions: readonly ElfFunction[], address: number): ElfFunction | undefined {
  let low = 0;
  let high = functions.length - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (functions[mid].address <= address) {
      found = mid;
      low = mid + 1;
    } else high = mid - 1;
  }
  if (found < 0) return undefined;
  const f = functions[found];
  if (f.size > 0) return address < f.address + f.size ? f : undefined;
  return found + 1 < functions.length ? f : undefined;
}

/**
 * For each address, the functions the debug information places there, innermost (inlined) first
 * and the real function last: `arm-none-eabi-addr2line -f -i -a`. Addresses without debug
 * information get an empty list. Throws if addr2line cannot run.
 */
export function inlinedAt(elf: string, addresses: readonly number[], addr2line = 'arm-none-eabi-addr2line'): Map<number, string[]> {
  const result = new Map<number, string[]>();
  const batch = 2000;
  for (let start = 0; start < addresses.length; start += batch) {
    const chunk = addresses.slice(start, start + batch);
    const r = spawnSync(addr2line, ['-e', elf, '-f', '-i', '-a', ...chunk.map((a) => `0x${(a >>> 0).toString(16)}`)], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.error || r.status !== 0) throw new Error(`${addr2line} failed on ${elf}: ${r.error?.message ?? r.stderr}`);
    let current: string[] | undefined;
    let expectFunction = true;
    for (const line of r.stdout.split('\n')) {
      if (/^0x[0-9a-f]+$/i.test(line)) {
        current = [];
        result.set(parseInt(line, 16) >>> 0, current);
        expectFunction = true;
        continue;
      }
      if (!current || line === '') continue;
      // function name and file:line alternate
      if (expectFunction && line !== '??') current.push(line);
      expectFunction = !expectFunction;
    }
  }
  return result;
}
