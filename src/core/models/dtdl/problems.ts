/**
 * Collects the problems of one parse run. Every rule reports through here with a stable code, so callers
 * get every problem at once, each with its source and JSON pointer (line/column are added at the end).
 */
import type { Problem } from '../../errors/errors.js';

export class ProblemSink {
  readonly problems: Problem[] = [];

  error(code: string, message: string, source: string, pointer: string): void {
    this.problems.push({ code, message, source, pointer, severity: 'error' });
  }

  warn(code: string, message: string, source: string, pointer: string): void {
    this.problems.push({ code, message, source, pointer, severity: 'warning' });
  }

  get errorCount(): number {
    return this.problems.filter((p) => p.severity !== 'warning').length;
  }
}

/** A reporter bound to one document: what element rules receive. */
export interface Reporter {
  error(code: string, message: string, pointer: string): void;
  warn(code: string, message: string, pointer: string): void;
}

export function reporterFor(sink: ProblemSink, source: string): Reporter {
  return {
    error: (code, message, pointer) => sink.error(code, message, source, pointer),
    warn: (code, message, pointer) => sink.warn(code, message, source, pointer),
  };
}
