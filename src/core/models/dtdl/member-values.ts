/**
 * Reading the value of one member of a DTDL element by its kind (see vocabulary.ts): names, literals,
 * localizable strings, fixed choices and DTMIs. Element-valued members are handled by element-parser.ts.
 */
import { isDtmiIn } from './dtmi.js';
import type { ParsedElement } from './element-types.js';
import { MAX_STRING_LENGTH, readLocalizable, readSingleLiteral } from './literals.js';
import { childPointer } from './positions.js';
import type { Reporter } from './problems.js';
import { reservedDtmi } from './vocabulary.js';
import { MAX_MULTIPLICITY_V2, MAX_NAME_LENGTH_V2 } from './vocabulary-v2.js';
import type { MemberSpec } from './vocabulary.js';

const NAME_RE = /^[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?$/;

/** Reads a literal-valued member into `el`. `enumValueSchema` is the parent Enum's valueSchema, if known. */
export function readLiteralMember(
  el: ParsedElement,
  term: string,
  spec: MemberSpec,
  v: unknown,
  p: string,
  r: Reporter,
  enumValueSchema: string | undefined,
): void {
  const v2 = el.ctx.version === 2;
  // v2 caps names and display names at 64 characters (v3: 512).
  const nameMax = v2 ? MAX_NAME_LENGTH_V2 : MAX_STRING_LENGTH;
  switch (spec.kind) {
    case 'lstring': {
      const max = term === 'displayName' ? nameMax : MAX_STRING_LENGTH;
      const lv = readLocalizable(v, p, term, r, { maxLength: max, lenientKeywords: v2 });
      if (lv && term === 'displayName') el.displayName = lv;
      if (lv && term === 'description') el.description = lv;
      return;
    }
    case 'comment': {
      const s = readSingleLiteral('string', v, p, term, 'atMostOne', r, v2);
      if (typeof s === 'string') {
        if (s.length > MAX_STRING_LENGTH)
          r.error(
            'dtdl.string.tooLong',
            `"comment" must not be longer than ${MAX_STRING_LENGTH} characters.`,
            p,
          );
        else el.comment = s;
      }
      return;
    }
    case 'name': {
      const s = readSingleLiteral('string', v, p, term, 'exactlyOne', r, v2);
      if (typeof s !== 'string') return;
      if (s.length > nameMax)
        r.error('dtdl.name.tooLong', `"name" must not be longer than ${nameMax} characters.`, p);
      else if (!NAME_RE.test(s))
        r.error(
          'dtdl.name.invalid',
          `"${s}" is not a valid name: letters, digits and "_", starting with a letter, ending with a letter or digit.`,
          p,
        );
      else el.name = s;
      return;
    }
    case 'boolean': {
      const b = readSingleLiteral('boolean', v, p, term, 'atMostOne', r, v2);
      if (typeof b === 'boolean') el.writable = b;
      return;
    }
    case 'integer': {
      const n = readSingleLiteral('integer', v, p, term, 'atMostOne', r, v2);
      if (typeof n !== 'number') return;
      if (term === 'minMultiplicity') {
        if (n !== 0) r.error('dtdl.multiplicity.invalid', '"minMultiplicity" must be 0.', p);
        else el.minMultiplicity = n;
      } else if (term === 'maxMultiplicity') {
        if (n < 1) r.error('dtdl.multiplicity.invalid', '"maxMultiplicity" must be at least 1.', p);
        else if (v2 && n > MAX_MULTIPLICITY_V2)
          r.error(
            'dtdl.multiplicity.invalid',
            `"maxMultiplicity" of a DTDL v2 Relationship must be at most ${MAX_MULTIPLICITY_V2}.`,
            p,
          );
        else el.maxMultiplicity = n;
      }
      return;
    }
    case 'enumValue': {
      let kind: 'integer' | 'string' | undefined;
      if (enumValueSchema === 'integer' || enumValueSchema === 'string') kind = enumValueSchema;
      if (kind) {
        const x = readSingleLiteral(kind, v, p, term, 'exactlyOne', r, v2);
        if (typeof x === 'number' || typeof x === 'string') el.enumValue = x;
      } else {
        // valueSchema unknown (itself broken): accept either kind rather than report twice.
        const x = Array.isArray(v) && v.length === 1 ? (v[0] as unknown) : v;
        if (typeof x === 'number' || typeof x === 'string') el.enumValue = x;
      }
      return;
    }
    case 'dtmi': {
      const items = Array.isArray(v) ? v : [v];
      if (items.length > 1) {
        r.error('dtdl.member.value', `"${term}" must hold at most one DTMI.`, p);
        return;
      }
      items.forEach((d, i) => {
        const ip = Array.isArray(v) ? childPointer(p, i) : p;
        if (!isDtmiIn(d, el.ctx.version))
          r.error(
            'dtdl.dtmi.invalid',
            `"${term}" must be a DTMI${v2 ? ' of DTDL v2 (with an integer version ";N")' : ''}.`,
            ip,
          );
        else el.target = d;
      });
      return;
    }
    case 'choice': {
      const items = Array.isArray(v) ? v : [v];
      const exactly = spec.card === 'exactlyOne';
      if (items.length > 1 || (exactly && items.length === 0)) {
        r.error(
          'dtdl.member.value',
          `"${term}" must hold ${exactly ? 'exactly one' : 'at most one'} value.`,
          p,
        );
        return;
      }
      items.forEach((c, i) => {
        const ip = Array.isArray(v) ? childPointer(p, i) : p;
        const choice = (spec.choices ?? []).find(
          (t) =>
            c === t ||
            c === reservedDtmi(t, el.ctx.version) ||
            (term !== 'commandType' && c === reservedDtmi(t, 2)),
        );
        if (!choice)
          r.error(
            'dtdl.member.value',
            `"${term}" must be one of ${(spec.choices ?? []).map((t) => `"${t}"`).join(', ')}.`,
            ip,
          );
        else {
          el.choice ??= {};
          el.choice[term] = choice;
          if (c !== choice) r.warn('dtdl.style.preferTerm', `Prefer "${choice}" over "${String(c)}".`, ip);
        }
      });
      if (term === 'commandType') r.warn('dtdl.style.deprecated', '"commandType" is deprecated.', p);
      return;
    }
    default:
      return;
  }
}
