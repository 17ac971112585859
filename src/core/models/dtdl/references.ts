/**
 * Resolves dependent references (DTMI strings in element-valued members) against the elements of the batch
 * and the already-known interfaces, applying the referenceability (partition) and type-conformance rules.
 * References found nowhere make the model incomplete: they are listed as unresolved identifiers.
 */
import type { InterfaceInfo } from '../model-types.js';
import type { ElementRef, ParsedElement } from './element-types.js';
import type { ProblemSink } from './problems.js';
import { classSpec } from './language.js';

/** Read access to interfaces known before this batch. */
export interface KnownInterfaces {
  getInterface(id: string): InterfaceInfo | undefined;
}

export type Target =
  | { kind: 'element'; el: ParsedElement }
  | { kind: 'known'; info: InterfaceInfo }
  | { kind: 'std'; name: string };

export class References {
  readonly byId = new Map<string, ParsedElement>();
  readonly unresolved = new Set<string>();
  private readonly resolved = new Map<ElementRef, Target | undefined>();

  constructor(
    private readonly elements: readonly ParsedElement[],
    private readonly known: KnownInterfaces | undefined,
    private readonly sink: ProblemSink,
  ) {
    for (const el of elements) {
      if (el.id === undefined) continue;
      if (this.byId.has(el.id))
        sink.error(
          'dtdl.id.duplicate',
          `"@id" "${el.id}" is used by more than one element.`,
          el.source,
          `${el.pointer}/@id`,
        );
      else this.byId.set(el.id, el);
    }
    for (const el of elements)
      for (const [member, refs] of el.children) for (const ref of refs) this.resolve(el, member, ref);
  }

  private resolve(el: ParsedElement, member: string, ref: ElementRef): void {
    if (ref.kind === 'element') return void this.resolved.set(ref, ref);
    if (ref.kind === 'std') return void this.resolved.set(ref, ref);
    const ms = classSpec(el.cls, el.ctx.version).members[member];
    const classes = ms?.classes ?? [];
    const from = el.ctx.version;
    // v3 members that admit v2 elements say so (allowV2); a v2 element admits no other version.
    const versionOk = (to: number): boolean =>
      to === from || (from === 3 && to === 2 && ms?.allowV2 === true);
    const t = this.byId.get(ref.id);
    if (t) {
      const referenceable = t.cls === 'Interface' || t.topLevel || t.partition === el.partition;
      if (!referenceable) {
        this.sink.error(
          'dtdl.reference.notReferenceable',
          `"${ref.id}" is not referenceable from here (it is nested in another Interface).`,
          el.source,
          ref.pointer,
        );
      } else if (!classes.includes(t.cls)) {
        this.sink.error(
          'dtdl.reference.type',
          `"${ref.id}" is a ${t.cls}; "${member}" needs ${classes.join(' or ')}.`,
          el.source,
          ref.pointer,
        );
      } else if (!versionOk(t.ctx.version)) {
        this.versionError(el, member, ref.id, ref.pointer, t.ctx.version);
      } else this.resolved.set(ref, { kind: 'element', el: t });
      return;
    }
    const info = this.known?.getInterface(ref.id);
    if (info) {
      if (classes.includes('Interface') && !versionOk(info.dtdlVersion ?? 3))
        this.versionError(el, member, ref.id, ref.pointer, info.dtdlVersion ?? 3);
      else if (classes.includes('Interface')) this.resolved.set(ref, { kind: 'known', info });
      else
        this.sink.error(
          'dtdl.reference.type',
          `"${ref.id}" is an Interface; "${member}" needs ${classes.join(' or ')}.`,
          el.source,
          ref.pointer,
        );
      return;
    }
    this.unresolved.add(ref.id);
    this.sink.error(
      'dtdl.reference.unresolved',
      `"${ref.id}" is referenced but not defined in this batch nor known.`,
      el.source,
      ref.pointer,
    );
  }

  private versionError(el: ParsedElement, member: string, id: string, pointer: string, to: number): void {
    this.sink.error(
      'dtdl.reference.version',
      `"${id}" is a DTDL v${to} element; "${member}" of a DTDL v${el.ctx.version} ${el.cls} cannot refer to it` +
        (el.ctx.version === 2 ? ' (a v2 Interface may not extend or embed a v3 Interface).' : '.'),
      el.source,
      pointer,
    );
  }

  /** The resolved targets of one member of an element (unresolved or invalid references are skipped). */
  targets(el: ParsedElement, member: string): Target[] {
    const out: Target[] = [];
    for (const ref of el.children.get(member) ?? []) {
      const t = this.resolved.get(ref);
      if (t) out.push(t);
    }
    return out;
  }

  /** Every (member, target, pointer) edge leaving an element. */
  edges(el: ParsedElement): { member: string; target: Target; pointer: string }[] {
    const out: { member: string; target: Target; pointer: string }[] = [];
    for (const [member, refs] of el.children) {
      for (const ref of refs) {
        const t = this.resolved.get(ref);
        if (t)
          out.push({
            member,
            target: t,
            pointer: ref.kind === 'ref' ? ref.pointer : ref.kind === 'element' ? ref.el.pointer : el.pointer,
          });
      }
    }
    return out;
  }
}
