/**
 * Matrix-vector products, W (d rows × n columns, row-major) times x (n), as llama2.c computes them:
 * one accumulator per row, summed left to right.
 */
import { dotQ8Groups, dotQ8Rows4, fround, idiv, imin } from './builtins.js';
import type { f32, i32 } from './types.js';

/** xout[i] = Σ_j w[i·n + j] · x[j] in float32, j ascending (llama2.c run.c `matmul`). */
export function matmulF32(xout: Float32Array, x: Float32Array, w: Float32Array, n: i32, d: i32): void {
  for (let i: i32 = 0; i < d; i++) {
    let val: f32 = 0;
    const row: i32 = i * n;
    for (let j: i32 = 0; j < n; j++) {
      val = fround(val + fround(w[row + j] * x[j]));
    }
    xout[i] = val;
  }
}

/**
 * Q8_0 matmul (llama2.c runq.c `matmul`, with row-aligned groups): each row of W is split into
 * groups of `groupSize` columns (the last one may be shorter); x was quantized with the same
 * grouping. Per group the int8 products are summed exactly in int32, then scaled in float32:
 * `val += (float)ival * wScale * xScale`, group after group, for each row.
 *
 * Rows go four at a time so that each load of x serves four rows (the builtin dotQ8Rows4 is
 * vectorized per target); every row still accumulates its groups in order, so the result is the
 * same as one row at a time.
 */
export function matmulQ8(
  xout: Float32Array,
  xq: Int8Array,
  xs: Float32Array,
  wq: Int8Array,
  ws: Float32Array,
  n: i32,
  d: i32,
  groupSize: i32,
): void {
  const groups: i32 = idiv(n + groupSize - 1, groupSize);
  const dots: Int32Array = new Int32Array(4);
  const blocked: i32 = d - (d % 4);
  for (let i: i32 = 0; i < blocked; i += 4) {
    let v0: f32 = 0;
    let v1: f32 = 0;
    let v2: f32 = 0;
    let v3: f32 = 0;
    for (let g: i32 = 0; g < groups; g++) {
      const start: i32 = g * groupSize;
      dotQ8Rows4(dots, xq, start, wq, i * n + start, n, imin(groupSize, n - start));
      const scale: i32 = i * groups + g;
      v0 = fround(v0 + fround(fround(dots[0] * ws[scale]) * xs[g]));
      v1 = fround(v1 + fround(fround(dots[1] * ws[scale + groups]) * xs[g]));
      v2 = fround(v2 + fround(fround(dots[2] * ws[scale + 2 * groups]) * xs[g]));
      v3 = fround(v3 + fround(fround(dots[3] * ws[scale + 3 * groups]) * xs[g]));
    }
    xout[i] = v0;
    xout[i + 1] = v1;
    xout[i + 2] = v2;
    xout[i + 3] = v3;
  }
  // the last rows, one at a time
  matmulQ8PerRow(xout.subarray(blocked), xq, xs, wq.subarray(blocked * n), ws.subarray(blocked * groups), n, d - blocked, groupSize);
}

/**
 * The same product one row at a time, exactly llama2.c runq.c's loop structure (with row-aligned
 * groups). It computes what matmulQ8 computes; generic builds use it as the baseline of the
 * benchmarks (shapes at run time, scalar loops, as runq.c).
 */
export function matmulQ8PerRow(
  xout: Float32Array,
  xq: Int8Array,
  xs: Float32Array,
  wq: Int8Array,
  ws: Float32Array,
  n: i32,
  d: i32,
  groupSize: i32,
): void {
  const groups: i32 = idiv(n + groupSize - 1, groupSize);
  for (let i: i32 = 0; i < d; i++) {
    let val: f32 = 0;
    const row: i32 = i * n;
    for (let g: i32 = 0; g < groups; g++) {
      const start: i32 = g * groupSize;
      const end: i32 = imin(start + groupSize, n);
      let ival: i32 = 0;
      for (let j: i32 = start; j < end; j++) {
        ival += xq[j] * wq[row + j];
      }
      val = fround(val + fround(fround(ival * ws[i * groups + g]) * xs[g]));
    }
    xout[i] = val;
  }
}

/**
 * The same product one row at a time, the int8 sums of up to 32 groups of the row first (the
 * builtin dotQ8Groups, vectorized per target), then the row's float32 accumulation over them in
 * order. For long rows, whose single stream of weights the hardware prefetcher follows better
 * than four (doc/build.md, "Speed on the host"); it computes what matmulQ8 computes.
 */
export function matmulQ8Groups(
  xout: Float32Array,
  xq: Int8Array,
  xs: Float32Array,
  wq: Int8Array,
  ws: Float32Array,
  n: i32,
  d: i32,
  groupSize: i32,
): void {
  const groups: i32 = idiv(n + groupSize - 1, groupSize);
  const dots: Int32Array = new Int32Array(32);
  for (let i: i32 = 0; i < d; i++) {
    let val: f32 = 0;
    for (let first: i32 = 0; first < groups; first += 32) {
      const start: i32 = first * groupSize;
      dotQ8Groups(dots, xq, start, wq, i * n + start, imin(32 * groupSize, n - start), groupSize);
      const count: i32 = imin(32, groups - first);
      for (let g: i32 = 0; g < count; g++) {
        val = fround(val + fround(fround(dots[g] * ws[i * groups + first + g]) * xs[first + g]));
      }
    }
    xout[i] = val;
  }
}
