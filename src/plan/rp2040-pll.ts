/**
 * PLL settings for an RP2040 clock, from the datasheet's constraints (2.18.2, "Calculating PLL
 * parameters"):
 *
 *   FOUTPOSTDIV = (FREF / REFDIV) × FBDIV / (POSTDIV1 × POSTDIV2)
 *
 *   FREF / REFDIV ≥ 5 MHz          the reference the phase detector sees
 *   FBDIV 16..320                  the feedback divider
 *   VCO = FREF / REFDIV × FBDIV    750..1600 MHz
 *   POSTDIV1, POSTDIV2 1..7        POSTDIV1 ≥ POSTDIV2 (the datasheet's advice: the larger divide
 *                                  first saves power)
 *
 * Among the exact solutions the highest VCO is taken (less jitter, the datasheet's and the SDK's
 * preference), then the smallest REFDIV (a higher reference frequency), then the larger POSTDIV1.
 * From a 12 MHz crystal that gives the familiar settings: 133 MHz = 1596 MHz / (6 × 2),
 * 125 MHz = 1500 MHz / (6 × 2), 200 MHz = 1200 MHz / (6 × 1). (The USB PLL is not computed here:
 * the firmware keeps the datasheet's 48 MHz = 1200 MHz / (5 × 5).)
 */

export const PLL_LIMITS = {
  minReferenceHz: 5_000_000,
  minVcoHz: 750_000_000,
  maxVcoHz: 1_600_000_000,
  minFbdiv: 16,
  maxFbdiv: 320,
  maxPostdiv: 7,
  /** REFDIV is a 6-bit field. */
  maxRefdiv: 63,
} as const;

export interface PllSettings {
  refdiv: number;
  fbdiv: number;
  postdiv1: number;
  postdiv2: number;
  vcoHz: number;
  outputHz: number;
}

/** The settings that give exactly `outputHz` from `referenceHz`, or undefined when none does. */
export function pllSettings(outputHz: number, referenceHz = 12_000_000): PllSettings | undefined {
  let best: PllSettings | undefined;
  const better = (s: PllSettings) =>
    !best ||
    s.vcoHz > best.vcoHz ||
    (s.vcoHz === best.vcoHz && (s.refdiv < best.refdiv || (s.refdiv === best.refdiv && s.postdiv1 > best.postdiv1)));
  for (let refdiv = 1; refdiv <= PLL_LIMITS.maxRefdiv && referenceHz / refdiv >= PLL_LIMITS.minReferenceHz; refdiv++) {
    for (let postdiv1 = 1; postdiv1 <= PLL_LIMITS.maxPostdiv; postdiv1++) {
      for (let postdiv2 = 1; postdiv2 <= postdiv1; postdiv2++) {
        const vcoHz = outputHz * postdiv1 * postdiv2;
        if (vcoHz < PLL_LIMITS.minVcoHz || vcoHz > PLL_LIMITS.maxVcoHz) continue;
        // VCO = reference / refdiv × fbdiv exactly: fbdiv = VCO × refdiv / reference, a whole number
        const fbdiv = (vcoHz * refdiv) / referenceHz;
        if (!Number.isInteger(fbdiv) || fbdiv < PLL_LIMITS.minFbdiv || fbdiv > PLL_LIMITS.maxFbdiv) continue;
        const s = { refdiv, fbdiv, postdiv1, postdiv2, vcoHz, outputHz };
        if (better(s)) best = s;
      }
    }
  }
  return best;
}

/** What is wrong with `s` against the datasheet's constraints (an empty list when nothing is). */
export function pllViolations(s: PllSettings, referenceHz = 12_000_000): string[] {
  const problems: string[] = [];
  const ref = referenceHz / s.refdiv;
  if (!Number.isInteger(s.refdiv) || s.refdiv < 1 || s.refdiv > PLL_LIMITS.maxRefdiv)
    problems.push(`REFDIV ${s.refdiv} is not 1..${PLL_LIMITS.maxRefdiv}`);
  if (ref < PLL_LIMITS.minReferenceHz) problems.push(`FREF / REFDIV = ${ref} Hz is below 5 MHz`);
  if (!Number.isInteger(s.fbdiv) || s.fbdiv < PLL_LIMITS.minFbdiv || s.fbdiv > PLL_LIMITS.maxFbdiv)
    problems.push(`FBDIV ${s.fbdiv} is not 16..320`);
  const vco = ref * s.fbdiv;
  if (vco !== s.vcoHz) problems.push(`VCO is ${vco} Hz, not the ${s.vcoHz} stated`);
  if (vco < PLL_LIMITS.minVcoHz || vco > PLL_LIMITS.maxVcoHz) problems.push(`VCO ${vco} Hz is outside 750..1600 MHz`);
  for (const [name, d] of [
    ['POSTDIV1', s.postdiv1],
    ['POSTDIV2', s.postdiv2],
  ] as const) {
    if (!Number.isInteger(d) || d < 1 || d > PLL_LIMITS.maxPostdiv) problems.push(`${name} ${d} is not 1..7`);
  }
  if (s.postdiv1 < s.postdiv2) problems.push('POSTDIV1 is below POSTDIV2');
  if (vco / (s.postdiv1 * s.postdiv2) !== s.outputHz)
    problems.push(`the output is ${vco / (s.postdiv1 * s.postdiv2)} Hz, not ${s.outputHz}`);
  return problems;
}
