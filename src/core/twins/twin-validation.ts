/**
 * Checks twin and relationship contents against their DTDL model: only declared properties (not
 * telemetry, commands or relationships), values valid for their schema, components present and made
 * of their interface's properties. Returns every problem with a JSON pointer into the twin.
 */
import type { Problem } from '../errors/errors.js';
import type { InterfaceInfo, ModelLookup, PropertyInfo } from '../models/model-types.js';
import { validateValue } from '../models/validate-value.js';
import { toPointer } from './json-patch.js';

const SOURCE = 'request body';

export interface ContentCheckOptions {
  /** Every component of the interface must be present (creating or replacing a twin). */
  requireComponents: boolean;
  /** Only check these top-level names (a patch re-checks what it touched); default all of `contents`. */
  only?: ReadonlySet<string>;
}

/** Checks a twin's contents (no `$` keys) against its interface. */
export function checkTwinContents(
  iface: InterfaceInfo,
  contents: Record<string, unknown>,
  models: ModelLookup,
  options: ContentCheckOptions,
): Problem[] {
  const problems: Problem[] = [];
  const names = options.only ?? new Set(Object.keys(contents));
  for (const name of names) {
    const ptr = toPointer([name]);
    const present = Object.prototype.hasOwnProperty.call(contents, name);
    const content = iface.contents.get(name);
    if (!content) {
      if (present) problems.push(unknownMember(iface.id, name, ptr));
      continue;
    }
    if (content.kind === 'Component') {
      if (!present) {
        problems.push({
          code: 'twin.component.missing',
          message: `Component '${name}' cannot be removed.`,
          pointer: ptr,
          source: SOURCE,
        });
        continue;
      }
      problems.push(...checkComponent(name, content.schema, contents[name], models));
      continue;
    }
    if (!present) continue; // a removed property
    if (content.kind !== 'Property') {
      problems.push({
        code: 'twin.member.notProperty',
        message: `'${name}' is a ${content.kind} of ${iface.id}, not a Property; only properties are stored on a twin.`,
        pointer: ptr,
        source: SOURCE,
      });
      continue;
    }
    problems.push(...checkProperty(content, contents[name], ptr));
  }
  if (options.requireComponents) {
    for (const c of iface.contents.values()) {
      if (c.kind === 'Component' && !Object.prototype.hasOwnProperty.call(contents, c.name)) {
        problems.push({
          code: 'twin.component.missing',
          message: `Component '${c.name}' (${c.schema}) must be present, at least as { "$metadata": {} }.`,
          pointer: toPointer([c.name]),
          source: SOURCE,
        });
      }
    }
  }
  return problems;
}

/** Checks relationship property values against the relationship's declared properties. */
export function checkRelationshipProperties(
  declared: ReadonlyMap<string, PropertyInfo>,
  relName: string,
  properties: Record<string, unknown>,
): Problem[] {
  const problems: Problem[] = [];
  for (const [name, value] of Object.entries(properties)) {
    const ptr = toPointer([name]);
    const p = declared.get(name);
    if (!p) {
      problems.push({
        code: 'relationship.property.unknown',
        message: `Relationship '${relName}' declares no property '${name}'.`,
        pointer: ptr,
        source: SOURCE,
      });
      continue;
    }
    problems.push(...checkProperty(p, value, ptr));
  }
  return problems;
}

function checkComponent(name: string, schemaId: string, value: unknown, models: ModelLookup): Problem[] {
  const ptr = toPointer([name]);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [
      {
        code: 'twin.component.notObject',
        message: `Component '${name}' must be an object such as { "$metadata": {} }.`,
        pointer: ptr,
        source: SOURCE,
      },
    ];
  }
  const iface = models.getInterface(schemaId);
  if (!iface) {
    return [
      {
        code: 'twin.component.modelUnknown',
        message: `Component '${name}' has model ${schemaId}, which is not uploaded.`,
        pointer: ptr,
        source: SOURCE,
      },
    ];
  }
  const problems: Problem[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (k === '$metadata') continue;
    const p = ptr + toPointer([k]);
    const content = iface.contents.get(k);
    if (!content) problems.push(unknownMember(iface.id, k, p));
    else if (content.kind !== 'Property') {
      problems.push({
        code: 'twin.member.notProperty',
        message: `'${k}' is a ${content.kind} of ${iface.id}, not a Property.`,
        pointer: p,
        source: SOURCE,
      });
    } else problems.push(...checkProperty(content, v, p));
  }
  return problems;
}

function checkProperty(p: PropertyInfo, value: unknown, pointer: string): Problem[] {
  return validateValue(p.schema, value, pointer).map((pr) => ({ ...pr, source: pr.source ?? SOURCE }));
}

function unknownMember(modelId: string, name: string, pointer: string): Problem {
  return {
    code: name.startsWith('$') ? 'twin.member.reserved' : 'twin.member.unknown',
    message: name.startsWith('$')
      ? `'${name}' is not a writable system property.`
      : `Model ${modelId} declares no property or component '${name}'.`,
    pointer,
    source: SOURCE,
  };
}
