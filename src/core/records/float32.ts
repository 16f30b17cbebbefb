/**
 * The shortest decimal that reads back as the same float32 (a finite one). At powers of two the nearest decimal of
 * a given length can fall outside the narrower lower half-interval while its upper neighbour rounds
 * back, so the neighbours are tried too.
 */
export function shortestFloat32(value: number): string {
  if (value === 0) return Object.is(value, -0) ? '-0' : '0';
  const sign = value < 0 ? '-' : '';
  for (let digits = 1; digits < 9; digits++) {
    const [mantissa = '', exponent = '0'] = Math.abs(value)
      .toExponential(digits - 1)
      .split('e');
    const nearest = BigInt(mantissa.replace('.', ''));
    const scale = Number(exponent) - (digits - 1);
    let best: number | undefined;
    for (const candidate of [nearest, nearest + 1n, nearest - 1n]) {
      const parsed = Number(`${sign}${candidate}e${scale}`);
      if (Math.fround(parsed) !== value) continue;
      if (best === undefined || Math.abs(parsed - value) < Math.abs(best - value)) best = parsed;
    }
    if (best !== undefined) return String(best);
  }
  // Nine significant digits always identify a float32.
  return String(Number(value.toPrecision(9)));
}
