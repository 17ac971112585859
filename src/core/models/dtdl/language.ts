/**
 * The vocabulary of each DTDL version behind one set of functions, so the element parser asks "in the
 * version of this element" instead of branching on the version everywhere. v3 tables are in
 * vocabulary.ts, v2 tables in vocabulary-v2.ts.
 */
import { ALL_CLASSES, CLASS_SPECS, isReserved, reservedDtmi } from './vocabulary.js';
import type { ClassName, ClassSpec } from './vocabulary.js';
import { ALL_CLASSES_V2, CLASS_SPECS_V2, isReservedV2, reservedDtmiV2 } from './vocabulary-v2.js';

/** The definition of a class in a version (falls back to the other version's for a foreign class). */
export function classSpec(cls: ClassName, version: number): ClassSpec {
  const own = version === 2 ? CLASS_SPECS_V2[cls] : CLASS_SPECS[cls];
  return (own ?? (version === 2 ? CLASS_SPECS[cls] : CLASS_SPECS_V2[cls])) as ClassSpec;
}

/** True when a string is listed in the reserved strings table of the version. */
export function isReservedIn(s: string, version: number): boolean {
  return version === 2 ? isReservedV2(s) : isReserved(s);
}

/** The DTMI a reserved term stands for in the version. */
export function reservedDtmiIn(term: string, version: number): string | undefined {
  return version === 2 ? reservedDtmiV2(term) : reservedDtmi(term, version);
}

/**
 * Reads a class name from a type string in a version: "Property" or "dtmi:dtdl:class:Property;3".
 * Returns the class and whether it was written as a DTMI.
 */
export function classOfType(s: string, version: number): { cls: ClassName; viaDtmi: boolean } | undefined {
  const classes = version === 2 ? ALL_CLASSES_V2 : ALL_CLASSES;
  if ((classes as readonly string[]).includes(s)) return { cls: s as ClassName, viaDtmi: false };
  const prefix = 'dtmi:dtdl:class:';
  const suffix = `;${version}`;
  if (s.startsWith(prefix) && s.endsWith(suffix)) {
    const c = s.slice(prefix.length, -suffix.length);
    if ((classes as readonly string[]).includes(c)) return { cls: c as ClassName, viaDtmi: true };
  }
  return undefined;
}
