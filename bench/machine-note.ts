/**
 * One line for every benchmark report saying how busy the machine was when the run started, read
 * from the load average rather than assumed: a figure from a shared machine is marked as such.
 */
import os from 'node:os';

/** 1-minute load average when this module was first imported (the start of the run). */
export const START_LOAD = os.loadavg()[0] ?? 0;

export function loadNote(): string {
  const cores = os.cpus().length;
  const load = START_LOAD.toFixed(2);
  return START_LOAD < cores * 0.5
    ? `Load average (1 min) at start: ${load} on ${cores} cores: a quiet machine.`
    : `Load average (1 min) at start: ${load} on ${cores} cores: **shared with other work**, figures are indicative.`;
}
