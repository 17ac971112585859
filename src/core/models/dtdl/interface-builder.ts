/**
 * Builds the resolved InterfaceInfo of every Interface (contents flattened through `extends`, ancestors,
 * schemas), and on the way applies the rules that need the flattened view: names unique among contents
 * including inherited ones, no Component inside a Component's Interface, unique enum values / field names.
 */
import type {
  ContentInfo,
  InterfaceInfo,
  PropertyInfo,
  Schema,
  PrimitiveSchemaName,
} from '../model-types.js';
import type { ParsedElement } from './element-types.js';
import { preferredText } from './literals.js';
import type { ProblemSink } from './problems.js';
import type { KnownInterfaces, References, Target } from './references.js';
import { MAX_CONTENTS_V2 } from './vocabulary-v2.js';

interface FlatEntry {
  info: ContentInfo;
  /** Identity of the declaring element, so a diamond inheritance is not a duplicate. */
  key: unknown;
}

export class InterfaceBuilder {
  private readonly flatMemo = new Map<unknown, Map<string, FlatEntry>>();
  private readonly infoMemo = new Map<ParsedElement, InterfaceInfo>();

  constructor(
    private readonly refs: References,
    private readonly known: KnownInterfaces | undefined,
    private readonly onCycle: Set<ParsedElement>,
    private readonly sink: ProblemSink,
  ) {}

  /** Builds every Interface of the batch (with an id) and runs the rules that need flattened contents. */
  buildAll(elements: readonly ParsedElement[]): Map<string, InterfaceInfo> {
    const out = new Map<string, InterfaceInfo>();
    for (const el of elements) {
      if (el.cls !== 'Interface') continue;
      const flat = this.flat({ kind: 'element', el }, true);
      if (el.ctx.version === 2 && flat.size > MAX_CONTENTS_V2)
        this.sink.error(
          'dtdl.contents.count',
          `A DTDL v2 Interface may have at most ${MAX_CONTENTS_V2} contents, including inherited ones; ${el.id ?? 'this one'} has ${flat.size}.`,
          el.source,
          `${el.pointer}/contents`,
        );
    }
    for (const el of elements) {
      if (el.cls === 'Interface' && el.id !== undefined && !out.has(el.id)) out.set(el.id, this.info(el));
      if (el.cls === 'Component') this.checkComponent(el);
      if (el.cls === 'Enum') this.checkUnique(el, 'enumValues', 'name', (e) => e.name);
      if (el.cls === 'Enum') this.checkUnique(el, 'enumValues', 'enumValue', (e) => e.enumValue);
      if (el.cls === 'Object') this.checkUnique(el, 'fields', 'name', (e) => e.name);
      if (el.cls === 'Relationship') this.checkUnique(el, 'properties', 'name', (e) => e.name);
    }
    return out;
  }

  private checkUnique(
    el: ParsedElement,
    member: string,
    what: string,
    get: (e: ParsedElement) => unknown,
  ): void {
    const seen = new Set<unknown>();
    for (const t of this.refs.targets(el, member)) {
      if (t.kind !== 'element') continue;
      const v = get(t.el);
      if (v === undefined) continue;
      if (seen.has(v))
        this.sink.error(
          what === 'name' ? 'dtdl.name.duplicate' : 'dtdl.enum.duplicateValue',
          `${what} ${JSON.stringify(v)} appears more than once in "${member}".`,
          t.el.source,
          t.el.pointer,
        );
      seen.add(v);
    }
  }

  private checkComponent(el: ParsedElement): void {
    for (const t of this.refs.targets(el, 'schema')) {
      const flat = this.flat(t, false);
      for (const e of flat.values()) {
        if (e.info.kind === 'Component') {
          this.sink.error(
            'dtdl.component.nested',
            `The Interface of a Component must not itself have Components ("${e.info.name}").`,
            el.source,
            `${el.pointer}/schema`,
          );
          return;
        }
      }
    }
  }

  /** Flattened contents of an Interface (own and inherited); reports duplicates when `report`. */
  private flat(t: Target, report: boolean): Map<string, FlatEntry> {
    const key = t.kind === 'element' ? t.el : t.kind === 'known' ? t.info : t;
    const memo = this.flatMemo.get(key);
    if (memo) return memo;
    const out = new Map<string, FlatEntry>();
    this.flatMemo.set(key, out); // guards cycles
    if (t.kind === 'known') {
      for (const [name, info] of t.info.contents) out.set(name, { info, key: `${info.definedIn}/${name}` });
      return out;
    }
    if (t.kind !== 'element' || this.onCycle.has(t.el)) return out;
    const el = t.el;
    const add = (name: string, entry: FlatEntry, pointer: string): void => {
      const prev = out.get(name);
      if (prev && prev.key !== entry.key) {
        if (report)
          this.sink.error(
            'dtdl.name.duplicate',
            `Name "${name}" is used by more than one content of ${el.id ?? 'this Interface'} (including inherited ones).`,
            el.source,
            pointer,
          );
        return;
      }
      out.set(name, entry);
    };
    for (const b of this.refs.targets(el, 'extends')) {
      for (const [name, entry] of this.flat(b, report)) add(name, entry, `${el.pointer}/extends`);
    }
    for (const c of this.refs.targets(el, 'contents')) {
      if (c.kind !== 'element' || c.el.name === undefined) continue;
      add(c.el.name, { info: this.content(c.el, el), key: c.el }, c.el.pointer);
    }
    return out;
  }

  private info(el: ParsedElement): InterfaceInfo {
    const memo = this.infoMemo.get(el);
    if (memo) return memo;
    const contents = new Map<string, ContentInfo>();
    for (const [name, e] of this.flat({ kind: 'element', el }, false)) contents.set(name, e.info);
    const schemas = new Map<string, Schema>();
    for (const s of this.refs.targets(el, 'schemas'))
      if (s.kind === 'element' && s.el.id) schemas.set(s.el.id, this.schema(s, new Set()));
    const ext = (el.children.get('extends') ?? []).flatMap((r) =>
      r.kind === 'ref' ? [r.id] : r.kind === 'element' && r.el.id ? [r.el.id] : [],
    );
    const info: InterfaceInfo = {
      id: el.id ?? '',
      dtdlVersion: el.ctx.version === 2 ? 2 : 3,
      extends: ext,
      ancestors: this.ancestors(el),
      contents,
      schemas,
    };
    const dn = preferredText(el.displayName);
    if (dn !== undefined) info.displayName = dn;
    const ds = preferredText(el.description);
    if (ds !== undefined) info.description = ds;
    if (el.comment !== undefined) info.comment = el.comment;
    this.infoMemo.set(el, info);
    return info;
  }

  private ancestors(el: ParsedElement): string[] {
    const out: string[] = [];
    const seen = new Set<unknown>([el]);
    const walk = (t: Target): void => {
      const key = t.kind === 'element' ? t.el : t.kind === 'known' ? t.info.id : t;
      if (seen.has(key)) return;
      seen.add(key);
      if (t.kind === 'element') {
        if (t.el.id) out.push(t.el.id);
        if (!this.onCycle.has(t.el)) for (const b of this.refs.targets(t.el, 'extends')) walk(b);
      } else if (t.kind === 'known') {
        out.push(t.info.id);
        for (const a of t.info.ancestors) if (!out.includes(a)) out.push(a);
      }
    };
    for (const b of this.refs.targets(el, 'extends')) walk(b);
    return out;
  }

  private content(c: ParsedElement, owner: ParsedElement): ContentInfo {
    const definedIn = owner.id ?? '';
    const base = {
      name: c.name ?? '',
      id:
        c.id ??
        `${definedIn.split(';')[0] ?? ''}:_contents:__${c.name ?? ''};${definedIn.split(';')[1] ?? '1'}`,
      semanticTypes: c.semanticTypes,
      definedIn,
    } as const;
    const extra: { displayName?: string; description?: string; comment?: string; unit?: string } = {};
    const dn = preferredText(c.displayName);
    if (dn !== undefined) extra.displayName = dn;
    const ds = preferredText(c.description);
    if (ds !== undefined) extra.description = ds;
    if (c.comment !== undefined) extra.comment = c.comment;
    if (c.unit !== undefined) extra.unit = c.unit;
    const schemaOf = (e: ParsedElement): Schema => {
      const [t] = this.refs.targets(e, 'schema');
      return t ? this.schema(t, new Set()) : { kind: 'primitive', name: 'string' };
    };
    switch (c.cls) {
      case 'Property':
        return { kind: 'Property', ...base, ...extra, schema: schemaOf(c), writable: c.writable ?? false };
      case 'Telemetry':
        return { kind: 'Telemetry', ...base, ...extra, schema: schemaOf(c) };
      case 'Component': {
        const [t] = this.refs.targets(c, 'schema');
        const id = t?.kind === 'element' ? (t.el.id ?? '') : t?.kind === 'known' ? t.info.id : '';
        return { kind: 'Component', ...base, ...extra, schema: id };
      }
      case 'Relationship': {
        const properties = new Map<string, PropertyInfo>();
        for (const p of this.refs.targets(c, 'properties')) {
          if (p.kind !== 'element' || p.el.name === undefined) continue;
          const pi = this.content(p.el, owner);
          if (pi.kind === 'Property') properties.set(p.el.name, pi);
        }
        const rel: ContentInfo = {
          kind: 'Relationship',
          ...base,
          ...extra,
          writable: c.writable ?? false,
          properties,
        };
        if (c.target !== undefined) rel.target = c.target;
        if (c.minMultiplicity !== undefined) rel.minMultiplicity = c.minMultiplicity;
        if (c.maxMultiplicity !== undefined) rel.maxMultiplicity = c.maxMultiplicity;
        return rel;
      }
      default: {
        const cmd: ContentInfo = { kind: 'Command', ...base, ...extra };
        const [req] = this.refs.targets(c, 'request');
        if (req?.kind === 'element')
          cmd.request = { name: req.el.name ?? '', schema: schemaOf(req.el), nullable: false };
        const [res] = this.refs.targets(c, 'response');
        if (res?.kind === 'element')
          cmd.response = { name: res.el.name ?? '', schema: schemaOf(res.el), nullable: false };
        return cmd;
      }
    }
  }

  /** Converts a schema target into the Schema contract type. */
  schema(t: Target, visiting: Set<ParsedElement>): Schema {
    if (t.kind === 'std') return { kind: 'primitive', name: t.name as PrimitiveSchemaName };
    if (t.kind !== 'element' || visiting.has(t.el)) return { kind: 'primitive', name: 'string' };
    const el = t.el;
    visiting.add(el);
    try {
      const first = (e: ParsedElement, m: string): Schema => {
        const [x] = this.refs.targets(e, m);
        return x ? this.schema(x, visiting) : { kind: 'primitive', name: 'string' };
      };
      const withId = <S extends Schema>(s: S): S => (el.id !== undefined ? { ...s, id: el.id } : s);
      switch (el.cls) {
        case 'Array':
          return withId({ kind: 'array', elementSchema: first(el, 'elementSchema') });
        case 'Enum': {
          const values = this.refs.targets(el, 'enumValues').flatMap((v) => {
            if (v.kind !== 'element' || v.el.name === undefined || v.el.enumValue === undefined) return [];
            const dn = preferredText(v.el.displayName);
            return [
              dn !== undefined
                ? { name: v.el.name, value: v.el.enumValue, displayName: dn }
                : { name: v.el.name, value: v.el.enumValue },
            ];
          });
          return withId({
            kind: 'enum',
            valueSchema: el.choice?.valueSchema === 'integer' ? 'integer' : 'string',
            values,
          });
        }
        case 'Map': {
          const [k] = this.refs.targets(el, 'mapKey');
          const [v] = this.refs.targets(el, 'mapValue');
          const keyName = k?.kind === 'element' ? (k.el.name ?? 'key') : 'key';
          const value =
            v?.kind === 'element'
              ? { name: v.el.name ?? 'value', schema: first(v.el, 'schema') }
              : { name: 'value', schema: { kind: 'primitive', name: 'string' } as Schema };
          return withId({ kind: 'map', key: { name: keyName }, value });
        }
        case 'Object': {
          const fields = this.refs
            .targets(el, 'fields')
            .flatMap((f) =>
              f.kind === 'element' && f.el.name !== undefined
                ? [{ name: f.el.name, schema: first(f.el, 'schema') }]
                : [],
            );
          return withId({ kind: 'object', fields });
        }
        default:
          return { kind: 'primitive', name: 'string' };
      }
    } finally {
      visiting.delete(el);
    }
  }
}
