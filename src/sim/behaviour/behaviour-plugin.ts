/**
 * Behaviour plug-ins: TypeScript or JavaScript for what a declarative behaviour cannot say — a pump
 * curve read from a table, a tank's level from its geometry (no closed form), a controller with
 * state of its own. A plug-in is a module next to the behaviours (`behaviours/NAME.plugin.mjs`,
 * compiled from TypeScript or written in JavaScript) whose default export is a BehaviourPlugin: a
 * name and pure numeric functions. Behaviour expressions call them as `name.function(args)`; they
 * still receive numbers and return a number, so a model stays a model: solvers, batching, what-if,
 * shadow mode and calibration all work unchanged.
 *
 * @example
 *   // behaviours/tank-geometry.plugin.mjs
 *   export default {
 *     name: 'tankGeometry',
 *     functions: { levelFromVolume: { args: 3, fn: (v, capacity, diameter) => ... } },
 *   };
 *   // behaviours/tank.behaviour.yaml:  level: 'tankGeometry.levelFromVolume(volume, capacity, diameter)'
 */
import { TwinloopError } from '../../core/errors/errors.js';
import { registerExprFunction } from '../expr/functions.js';

export interface BehaviourPluginFunction {
  /** A pure function of numbers. */
  fn: (...args: number[]) => number;
  /** How many arguments: exactly n, or [min, max]. */
  args: number | readonly [number, number];
  description?: string;
}

export interface BehaviourPlugin {
  /** The namespace of its functions in expressions (letters, digits, _). */
  name: string;
  functions: Readonly<Record<string, BehaviourPluginFunction>>;
}

/**
 * Checks a plug-in module's export and registers its functions.
 * @returns the names registered (`name.function`).
 * @throws TwinloopError ValidationFailed naming the source and what is wrong.
 */
export function installBehaviourPlugin(plugin: unknown, source = 'plug-in'): string[] {
  const bad = (why: string): TwinloopError =>
    new TwinloopError('ValidationFailed', `Behaviour plug-in ${source}: ${why}`);
  if (typeof plugin !== 'object' || plugin === null)
    throw bad('its default export must be an object { name, functions }.');
  const p = plugin as Partial<BehaviourPlugin>;
  if (typeof p.name !== 'string' || !/^[A-Za-z][A-Za-z0-9_]*$/.test(p.name))
    throw bad("'name' must be letters, digits and _ (it prefixes its functions: name.function).");
  if (typeof p.functions !== 'object' || p.functions === null || Object.keys(p.functions).length === 0)
    throw bad("'functions' must be an object of at least one function.");
  const names: string[] = [];
  for (const [fname, f] of Object.entries(p.functions)) {
    const full = `${p.name}.${fname}`;
    if (typeof f?.fn !== 'function') throw bad(`'${full}' needs fn, a function of numbers.`);
    const [minArgs, maxArgs] = typeof f.args === 'number' ? [f.args, f.args] : (f.args ?? [NaN, NaN]);
    if (!Number.isInteger(minArgs) || !Number.isInteger(maxArgs) || minArgs < 0 || maxArgs < minArgs)
      throw bad(`'${full}' needs args: a whole number, or [min, max].`);
    const impl = f.fn;
    try {
      registerExprFunction(full, {
        minArgs,
        maxArgs,
        // Whatever the plug-in returns, expressions only ever see a number.
        fn: (...a: number[]) => Number(impl(...a)),
        signature: `${full}(${minArgs === maxArgs ? minArgs : `${minArgs}..${maxArgs}`} args)${f.description ? ` — ${f.description}` : ''}`,
      });
    } catch (e) {
      throw bad((e as Error).message);
    }
    names.push(full);
  }
  return names;
}
