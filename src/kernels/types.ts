/**
 * Scalar types of the kernel subset. In TypeScript they are all `number` (or `bigint` for u64);
 * the declared alias tells the C code generator which C type to emit and tells the reader how the
 * value is rounded:
 *
 * | alias | C type     | rule in TypeScript                                                |
 * | ----- | ---------- | ----------------------------------------------------------------- |
 * | f32   | `float`    | every arithmetic result is passed through `fround()` (Math.fround)   |
 * | f64   | `double`   | plain JS arithmetic                                               |
 * | i32   | `int32_t`  | integer-valued; results must stay within ±2^31 (no wrap-around)   |
 * | u32   | `uint32_t` | integer-valued in [0, 2^32); use `>>>` where C would shift        |
 * | u64   | `uint64_t` | `bigint`, wrapped with `BigInt.asUintN(64, …)` where C wraps       |
 */
export type f32 = number;
export type f64 = number;
export type i32 = number;
export type u32 = number;
export type u64 = bigint;
