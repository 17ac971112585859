/**
 * The intermediate form of a parsed DTDL element: its class, identity, position, active context, the
 * literal members it declared and, per element-valued member, the elements, references or standard schemas
 * it includes. The resolver turns these into InterfaceInfo.
 */
import type { ActiveContext } from './context.js';
import type { ClassName } from './vocabulary.js';

export type ElementRef =
  | { kind: 'element'; el: ParsedElement }
  | { kind: 'ref'; id: string; pointer: string }
  | { kind: 'std'; name: string };

export interface ParsedElement {
  cls: ClassName;
  /** Explicit `@id`, when given and valid. */
  id?: string;
  source: string;
  pointer: string;
  /** Partition number (referenceability). */
  partition: number;
  topLevel: boolean;
  ctx: ActiveContext;
  parent?: ParsedElement;
  /** Member of the parent that includes this element. */
  parentMember?: string;
  name?: string;
  displayName?: Record<string, string>;
  description?: Record<string, string>;
  comment?: string;
  writable?: boolean;
  minMultiplicity?: number;
  maxMultiplicity?: number;
  target?: string;
  /** Enum valueSchema, MapKey schema, Command commandType: the chosen term. */
  choice?: Record<string, string>;
  enumValue?: string | number;
  semanticTypes: string[];
  unit?: string;
  /** Element-valued members, by term. */
  children: Map<string, ElementRef[]>;
}
