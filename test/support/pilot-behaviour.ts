/** Test support: a shipped pilot's behaviour compiled against the pilot's own models. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isValidResult, parseDtdl } from '../../src/core/models/dtdl/parse-dtdl.js';
import type { ModelLookup } from '../../src/core/models/model-types.js';
import { compileBehaviour, type CompiledBehaviour } from '../../src/sim/behaviour/compile-behaviour.js';

const PILOTS = join(import.meta.dirname, '../../pilots');

/** @example pilotBehaviour('pump-line', 'pump.behaviour.yaml', 'dtmi:twinloop:pumpline:Pump;1') */
export function pilotBehaviour(pilot: string, file: string, interfaceId: string): CompiledBehaviour {
  const dir = join(PILOTS, pilot, 'models');
  const r = parseDtdl(readdirSync(dir).map((f) => ({ source: f, text: readFileSync(join(dir, f), 'utf8') })));
  if (!isValidResult(r)) throw new Error(`pilot ${pilot}: models invalid`);
  const lookup: ModelLookup = {
    getInterface: (id) => r.interfaces.get(id),
    isOfModel: (m, b) => m === b || (r.interfaces.get(m)?.ancestors.includes(b) ?? false),
  };
  const iface = lookup.getInterface(interfaceId);
  if (!iface) throw new Error(`pilot ${pilot} has no ${interfaceId}`);
  return compileBehaviour(readFileSync(join(PILOTS, pilot, 'behaviours', file), 'utf8'), iface, { lookup });
}
