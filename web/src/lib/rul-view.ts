/**
 * What the twin page says about a remaining-useful-life answer (GET /digitaltwins/{id}/rul):
 * the steps left, the time they mean, the band, and how good the model was on held-out assets.
 */
import { formatDuration } from './format.js';

export interface RulAnswer {
  twinId: string;
  modelId: string;
  version: number;
  rul: number;
  lower?: number;
  upper?: number;
  step: number;
  time: string;
  stepSeconds?: number;
}

export interface RulView {
  /** "121 steps" (rounded; "0 steps" when the model says it is due). */
  value: string;
  /** "≈ 5.04 d at 1 h a step", when the step is known. */
  time?: string;
  /** "10–90 % band: 99 to 145 steps", when the model gives one. */
  band?: string;
  /** "at its step 31 (the step from …)". */
  at: string;
  /** True when the model says the asset is at or past its end (RUL ≤ 0 or its lower bound ≤ 0). */
  due: boolean;
}

const steps = (n: number): string => `${n} step${n === 1 ? '' : 's'}`;

export function rulView(a: RulAnswer, locale?: string): RulView {
  const left = Math.max(0, Math.round(a.rul));
  const out: RulView = {
    value: steps(left),
    at: `at its step ${a.step} (from ${new Date(a.time).toLocaleString(locale)})`,
    due: a.rul <= 0 || (a.lower !== undefined && a.lower <= 0),
  };
  if (a.stepSeconds !== undefined && a.stepSeconds > 0)
    out.time = `≈ ${formatDuration(left * a.stepSeconds * 1000) || '0 s'} at ${formatDuration(a.stepSeconds * 1000)} a step`;
  if (a.lower !== undefined && a.upper !== undefined && Number.isFinite(a.lower) && Number.isFinite(a.upper))
    out.band = `10–90 % band: ${Math.max(0, Math.round(a.lower))} to ${Math.max(0, Math.round(a.upper))} steps`;
  return out;
}

/** Telemetry names in the order people read them: s2 before s10. */
export function naturalOrder(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
