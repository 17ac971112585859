/** A small DTDL interface shared by the behaviour tests (parsed with the real DTDL parser). */
import type { InterfaceInfo } from '../../core/models/model-types.js';
import { parseDtdl } from '../../core/models/dtdl/parse-dtdl.js';

export const TANK_INTERFACE_ID = 'dtmi:test:Tank;1';

const TANK = {
  '@context': 'dtmi:dtdl:context;3',
  '@id': TANK_INTERFACE_ID,
  '@type': 'Interface',
  contents: [
    { '@type': 'Telemetry', name: 'level', schema: 'double' },
    { '@type': 'Telemetry', name: 'overflow', schema: 'boolean' },
    { '@type': 'Telemetry', name: 'cycles', schema: 'integer' },
    { '@type': 'Telemetry', name: 'name', schema: 'string' },
    { '@type': 'Property', name: 'outflowReported', schema: 'double' },
    { '@type': 'Command', name: 'setValve', request: { name: 'open', schema: 'boolean' } },
    {
      '@type': 'Command',
      name: 'configure',
      request: { name: 'cfg', schema: { '@type': 'Object', fields: [{ name: 'rate', schema: 'double' }] } },
    },
  ],
};

export function tankInterface(): InterfaceInfo {
  const r = parseDtdl([{ source: 'tank.json', json: TANK }]);
  const iface = r.interfaces.get(TANK_INTERFACE_ID);
  if (iface === undefined) throw new Error(`test interface did not parse: ${JSON.stringify(r.problems)}`);
  return iface;
}
