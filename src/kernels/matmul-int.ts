/**
 * The Q8_0 matmul of the integer kernels: int8 weights and activations, int32 sums, and the group
 * scales applied in fixed point instead of float32 (see doc/kernels.md, "Integer mode").
 */
import { dotQ8Rows4, idiv, imin, mulShr } from './builtins.js';
import type { i32 } from './types.js';

/**
 * xout (d values, Q16.16) = W (d × n, Q8_0) · x, with x quantized by quantizeQ8Int (xq, xm).
 * The weight scales are fixed point in 16 bits: ws = round(scale / 127 · 2^scaleShift) (src/quant/fixed-point.ts),
 * so one group adds dot · M · scale / 127 in Q16.16, computed as
 * mulShr(ws, mulShr(dot, M, 16), scaleShift - 16), ws first: below 2^15, it makes the product a
 * short one on the M0+. Groups are added in order, rows four at a time.
 */
export function matmulQ8Int(
  xout: Int32Array,
  xq: Int8Array,
  xm: Int32Array,
  wq: Int8Array,
  ws: Int16Array,
  n: i32,
  d: i32,
  groupSize: i32,
  scaleShift: i32,
): void {
  const groups: i32 = idiv(n + groupSize - 1, groupSize);
  const shift: i32 = scaleShift - 16;
  const dots: Int32Array = new Int32Array(4);
  const blocked: i32 = d - (d % 4);
  for (let i: i32 = 0; i < blocked; i += 4) {
    let v0: i32 = 0;
    let v1: i32 = 0;
    let v2: i32 = 0;
    let v3: i32 = 0;
    for (let g: i32 = 0; g < groups; g++) {
      const start: i32 = g * groupSize;
      dotQ8Rows4(dots, xq, start, wq, i * n + start, n, imin(groupSize, n - start));
      const m: i32 = xm[g];
      const scale: i32 = i * groups + g;
      v0 += mulShr(ws[scale], mulShr(dots[0], m, 16), shift);
      v1 += mulShr(ws[scale + groups], mulShr(dots[1], m, 16), shift);
      v2 += mulShr(ws[scale + 2 * groups], mulShr(dots[2], m, 16), shift);
      v3 += mulShr(ws[scale + 3 * groups], mulShr(dots[3], m, 16), shift);
    }
    xout[i] = v0;
    xout[i + 1] = v1;
    xout[i + 2] = v2;
    xout[i + 3] = v3;
  }
  // the last rows, one at a time
  for (let i: i32 = blocked; i < d; i++) {
    let val: i32 = 0;
    const row: i32 = i * n;
    for (let g: i32 = 0; g < groups; g++) {
      const start: i32 = g * groupSize;
      const end: i32 = imin(start + groupSize, n);
      let dot: i32 = 0;
      for (let j: i32 = start; j < end; j++) {
        dot += xq[j] * wq[row + j];
      }
      val += mulShr(ws[i * groups + g], mulShr(dot, xm[g], 16), shift);
    }
    xout[i] = val;
  }
}

/** x (dim values, Q16.16) ← the embedding row of `token`: wq · 127 · ws / 2^(scaleShift - 16). */
export function embedQ8Int(x: Int32Array, wq: Int8Array, ws: Int16Array, token: i32, dim: i32, groupSize: i32, scaleShift: i32): void {
  const groups: i32 = idiv(dim + groupSize - 1, groupSize);
  const row: i32 = token * dim;
  for (let j: i32 = 0; j < dim; j++) {
    x[j] = mulShr(wq[row + j] * 127, ws[token * groups + idiv(j, groupSize)], scaleShift - 16);
  }
}

/** x += y, element by element (Q16.16). */
export function residualAddInt(x: Int32Array, y: Int32Array, n: i32): void {
  for (let i: i32 = 0; i < n; i++) {
    x[i] = x[i] + y[i];
  }
}
