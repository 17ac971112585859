/**
 * Entry point of Twinloop's own DTDL parser (v3, and v2 alone or mixed with v3): validates a batch of JSON documents (each one Interface or
 * an array of them) against the specification, resolves references within the batch and against already
 * known interfaces, and returns the resolved InterfaceInfo of every Interface with every problem found.
 *
 * @example
 *   const { interfaces, problems, unresolved } = parseDtdl([{ source: 'thermostat.json', text }]);
 *   if (problems.some((p) => p.severity !== 'warning')) console.error(problems.map(formatProblem).join('\n'));
 */
import type { Problem } from '../../errors/errors.js';
import type { InterfaceInfo } from '../model-types.js';
import { ROOTLESS_CONTEXT } from './context.js';
import { parseElement } from './element-parser.js';
import type { ParseState } from './element-parser.js';
import type { ParsedElement } from './element-types.js';
import { InterfaceBuilder } from './interface-builder.js';
import { checkCycles, checkExtends, checkSchemaDepth, checkV2PropertySchemas } from './limits.js';
import { TextPositions, childPointer, findDuplicateKeys, parseJsonText } from './positions.js';
import { ProblemSink, reporterFor } from './problems.js';
import { References } from './references.js';
import type { KnownInterfaces } from './references.js';

export type { KnownInterfaces } from './references.js';

export interface DtdlInput {
  /** File name, index or other label used in problems. */
  source: string;
  /** The JSON text (gives problems a line and column). */
  text?: string;
  /** The parsed JSON, when there is no text. */
  json?: unknown;
}

export interface ParseDtdlOptions {
  /** Accept extension contexts with no known definition (the model is then contextually incomplete). */
  allowUndefinedExtensions?: boolean;
  /** Interfaces registered before this batch, which the batch may reference. */
  known?: KnownInterfaces;
}

export interface ParseDtdlResult {
  /** Every Interface of the batch with an `@id` (including inline ones), resolved and flattened. */
  interfaces: Map<string, InterfaceInfo>;
  /** Every problem (errors and warnings). The batch is valid when none has severity 'error'. */
  problems: Problem[];
  /** Identifiers referenced as elements but defined nowhere (the model is incomplete). */
  unresolved: string[];
}

/** True when a result holds no error (warnings allowed). */
export function isValidResult(r: ParseDtdlResult): boolean {
  return r.problems.every((p) => p.severity === 'warning');
}

/** Parses and validates a batch of DTDL documents. Never throws on bad input: everything is a Problem. */
export function parseDtdl(inputs: readonly DtdlInput[], options: ParseDtdlOptions = {}): ParseDtdlResult {
  const sink = new ProblemSink();
  const st: ParseState = {
    options: { allowUndefinedExtensions: options.allowUndefinedExtensions ?? false },
    elements: [],
    nextPartition: 0,
  };
  const positions = new Map<string, TextPositions>();

  for (const input of inputs) {
    const r = reporterFor(sink, input.source);
    let doc: unknown = input.json;
    if (input.text !== undefined) {
      const parsed = parseJsonText(input.text);
      if ('error' in parsed) {
        sink.problems.push({
          code: 'dtdl.json.syntax',
          message: parsed.error.message,
          source: input.source,
          pointer: '',
          line: parsed.error.line,
          column: parsed.error.column,
          severity: 'error',
        });
        continue;
      }
      doc = parsed.value;
      for (const d of findDuplicateKeys(
        input.text.charCodeAt(0) === 0xfeff ? input.text.slice(1) : input.text,
      )) {
        sink.problems.push({
          code: 'dtdl.json.duplicateKey',
          message: `Member "${d.key}" appears more than once in the same object.`,
          source: input.source,
          pointer: d.pointer,
          line: d.line,
          column: d.column,
          severity: 'error',
        });
      }
      positions.set(
        input.source,
        new TextPositions(input.text.charCodeAt(0) === 0xfeff ? input.text.slice(1) : input.text),
      );
    }
    const roots: { v: unknown; p: string }[] = [];
    if (Array.isArray(doc)) doc.forEach((v, i) => roots.push({ v, p: childPointer('', i) }));
    else roots.push({ v: doc, p: '' });
    if (Array.isArray(doc) || (typeof doc === 'object' && doc !== null)) {
      for (const { v, p } of roots) {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) {
          r.error('dtdl.root.invalid', 'A document must be an object or an array of objects.', p);
          continue;
        }
        parseElement(
          v,
          p,
          { classes: ['Interface'] },
          undefined,
          ROOTLESS_CONTEXT,
          true,
          st,
          input.source,
          r,
        );
      }
    } else r.error('dtdl.root.invalid', 'A document must be an object or an array of objects.', '');
  }

  const elements: ParsedElement[] = st.elements;
  let interfaces = new Map<string, InterfaceInfo>();
  let unresolved: string[] = [];
  try {
    const refs = new References(elements, options.known, sink);
    const onCycle = checkCycles(elements, refs, sink);
    checkExtends(elements, refs, options.known, onCycle, sink);
    checkSchemaDepth(elements, refs, onCycle, sink);
    checkV2PropertySchemas(elements, refs, onCycle, sink);
    interfaces = new InterfaceBuilder(refs, options.known, onCycle, sink).buildAll(elements);
    unresolved = [...refs.unresolved];
  } catch (e) {
    // A defect of ours must not crash the caller: report it as a problem.
    sink.error(
      'dtdl.internal',
      `Internal parser error: ${(e as Error).message}`,
      inputs[0]?.source ?? '',
      '',
    );
  }

  for (const p of sink.problems) {
    if (p.line !== undefined || p.source === undefined || p.pointer === undefined) continue;
    const lc = positions.get(p.source)?.ofPointer(p.pointer);
    if (lc) {
      p.line = lc.line;
      p.column = lc.column;
    }
  }
  return { interfaces, problems: sink.problems, unresolved };
}
