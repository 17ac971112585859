/**
 * The Node flags a benchmark gives the system under test: the same as `npm start` uses, so the
 * figures describe what users run. BENCH_SUT_FLAGS overrides them ("" for none).
 */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=64'];

export function serverNodeFlags(): string[] {
  const env = process.env.BENCH_SUT_FLAGS;
  if (env === undefined) return SERVER_NODE_FLAGS;
  return env.split(' ').filter((f) => f !== '');
}
