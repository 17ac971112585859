/** Small helpers shared by the bench:web scenarios. */
export const median = (xs: readonly number[]): number => quantile(xs, 0.5);

/** The q-quantile (nearest rank on the sorted values); NaN for none. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  if (q === 0.5 && s.length % 2 === 0) return (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

export const kib = (b: number): string => `${(b / 1024).toFixed(1)} KiB`;
export const mib = (b: number): string => `${(b / 1048576).toFixed(1)} MiB`;
