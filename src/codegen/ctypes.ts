/**
 * The types of the kernel subset and their C spelling (see doc/kernels.md).
 *
 * Scalars: f32 (float), f64 (double), i32 (int: 32 bits on every target we build for), u32, u64,
 * bool. Arrays (typed arrays in TypeScript) are pointers. Two pseudo-types stand for numeric
 * literals whose C type depends on where they are used.
 */
export type ScalarType = 'f32' | 'f64' | 'i32' | 'u32' | 'u64' | 'bool' | 'void' | 'intlit' | 'floatlit';
export type ElementType = 'f32' | 'i8' | 'i16' | 'i32' | 'u8' | 'u64';
export type ArrayType = `${ElementType}[]`;
export type KernelType = ScalarType | ArrayType;

const FROM_TS: Record<string, KernelType> = {
  f32: 'f32',
  f64: 'f64',
  i32: 'i32',
  u32: 'u32',
  u64: 'u64',
  boolean: 'bool',
  void: 'void',
  Float32Array: 'f32[]',
  Int8Array: 'i8[]',
  Int16Array: 'i16[]',
  Int32Array: 'i32[]',
  Uint8Array: 'u8[]',
  BigUint64Array: 'u64[]',
};

/** The kernel type named by a TypeScript type annotation, or undefined when it is not in the subset. */
export function typeFromAnnotation(text: string): KernelType | undefined {
  return FROM_TS[text.trim()];
}

export const SUPPORTED_ANNOTATIONS = Object.keys(FROM_TS);

const C_SCALAR: Record<ScalarType, string> = {
  f32: 'float',
  f64: 'double',
  i32: 'int',
  u32: 'uint32_t',
  u64: 'uint64_t',
  bool: 'bool',
  void: 'void',
  intlit: 'int',
  floatlit: 'double',
};

/** The C type of an array element (a kernel's, or a planned buffer's: the plan has the same element types). */
export const C_ELEMENT: Record<ElementType, string> = {
  f32: 'float',
  i8: 'int8_t',
  i16: 'int16_t',
  i32: 'int32_t',
  u8: 'uint8_t',
  u64: 'uint64_t',
};

/** True for the kernel array types (`f32[]`, `i8[]`, …), which become C pointers. */
export function isArray(t: KernelType): t is ArrayType {
  return t.endsWith('[]');
}

/** The element type of a kernel array type (`i8[]` → `i8`). */
export function elementOf(t: ArrayType): ElementType {
  return t.slice(0, -2) as ElementType;
}

/** The scalar type of an array element once loaded (int8, int16 and uint8 promote to int, as in C). */
export function loadedType(e: ElementType): ScalarType {
  if (e === 'f32') return 'f32';
  if (e === 'u64') return 'u64';
  return 'i32';
}

/**
 * The C spelling of a kernel type (`f32` → `float`, `i8[]` → `int8_t*`); `constPointee` makes an
 * array `const T*`, for arrays a kernel only reads.
 */
export function cType(t: KernelType, opts: { constPointee?: boolean } = {}): string {
  if (isArray(t)) return `${opts.constPointee ? 'const ' : ''}${C_ELEMENT[elementOf(t)]}*`;
  return C_SCALAR[t];
}

/** Whether arithmetic on `t` is integer arithmetic in C: the int and uint types, integer literals and booleans. */
export function isInteger(t: KernelType): boolean {
  return t === 'i32' || t === 'u32' || t === 'u64' || t === 'intlit' || t === 'bool';
}

/** Whether `t` is a floating-point type: float32, double, or a literal with a fraction or exponent. */
export function isFloat(t: KernelType): boolean {
  return t === 'f32' || t === 'f64' || t === 'floatlit';
}

/** Integer or floating point: a type arithmetic operators accept (arrays and void are not). */
export function isNumeric(t: KernelType): boolean {
  return isInteger(t) || isFloat(t);
}
