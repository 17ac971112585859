/**
 * What a simulated device answers a command it applied with: a plausible value of the DTDL
 * command's response schema (`true` for a boolean, 0 for a number, the first value of an enum, an
 * object of such fields), so the platform's check of the response against the model passes. A
 * schema with no obvious value (dates, durations, geospatial) gives undefined: the answer then
 * carries no response.
 */
import type { CommandInfo, InterfaceInfo, Schema } from '../../core/models/model-types.js';

const NUMBERS = new Set([
  'byte',
  'decimal',
  'double',
  'float',
  'integer',
  'long',
  'short',
  'unsignedByte',
  'unsignedInteger',
  'unsignedLong',
  'unsignedShort',
]);

/** A value of `schema`, or undefined when there is no obvious one. */
export function plausibleValue(schema: Schema, depth = 0): unknown {
  if (depth > 16) return undefined;
  switch (schema.kind) {
    case 'primitive':
      if (schema.name === 'boolean') return true;
      if (NUMBERS.has(schema.name)) return 0;
      if (schema.name === 'string') return 'ok';
      return undefined;
    case 'enum':
      return schema.values[0]?.value;
    case 'array':
      return [];
    case 'map':
      return {};
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const f of schema.fields) {
        const v = plausibleValue(f.schema, depth + 1);
        if (v === undefined) return undefined;
        out[f.name] = v;
      }
      return out;
    }
  }
}

/** The response a simulated device answers `command` with (undefined: none). */
export function commandResponseOf(command: CommandInfo | undefined): unknown {
  return command?.response ? plausibleValue(command.response.schema) : undefined;
}

/** True when `name` is a read-only property of the interface (a device reports it, nobody sets it). */
export function isReadOnlyProperty(iface: InterfaceInfo | undefined, name: string): boolean {
  const c = iface?.contents.get(name);
  return c?.kind === 'Property' && !c.writable;
}
