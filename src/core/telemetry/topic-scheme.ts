/**
 * The MQTT topic scheme for telemetry: which topics carry readings, and which workspace, twin and
 * component a topic names. Patterns follow the DTDL MQTT extension's `telemetryTopic` form
 * (slash-separated labels and brace-enclosed tokens), so a model's own pattern can be plugged in.
 *
 * Tokens: {workspace}, {twinId} (alias {senderId}, the DTDL extension's name for the device),
 * {component}, {modelId} (the twin's model must be, or extend, this DTMI). A level that carries an id
 * is percent-decoded, so twin ids containing `/`, `+`, `#` or `%` travel as %2F, %2B, %23, %25.
 */

/** What a telemetry topic names. */
export interface TopicTarget {
  workspace: string;
  twinId: string;
  component?: string;
  /** From a {modelId} token: the twin's model must be or extend it. */
  modelId?: string;
}

export type TopicMatch =
  | { kind: 'telemetry'; target: TopicTarget }
  /** The topic has the shape of a telemetry topic but a level is unusable (bad percent-encoding, empty id). */
  | { kind: 'invalid'; reason: string }
  /** Not a telemetry topic: pass it through untouched. */
  | { kind: 'other' };

const TOKENS = new Set(['workspace', 'twinId', 'senderId', 'component', 'modelId']);

/** The default patterns, most specific first. The short `twins/...` form means workspace "default". */
export const DEFAULT_TELEMETRY_TOPICS: readonly string[] = [
  'twinloop/{workspace}/twins/{twinId}/telemetry',
  'twinloop/{workspace}/twins/{twinId}/components/{component}/telemetry',
  'twins/{twinId}/telemetry',
  'twins/{twinId}/components/{component}/telemetry',
];

export const DEFAULT_WORKSPACE = 'default';

interface CompiledPattern {
  source: string;
  /** Per level: a literal to compare, or the token it binds. */
  levels: readonly ({ literal: string } | { token: string })[];
}

/**
 * Compiles topic patterns once; `match` is then a split and a few string compares per pattern.
 *
 * @example
 * const scheme = new TopicScheme();
 * scheme.match('twinloop/plant/twins/pump-1/telemetry');
 * // → { kind: 'telemetry', target: { workspace: 'plant', twinId: 'pump-1' } }
 * scheme.subscriptionFilters(); // ['twinloop/+/twins/+/telemetry', ...]
 */
export class TopicScheme {
  private readonly patterns: readonly CompiledPattern[];

  /** @throws Error with the offending pattern when one is malformed (config validation reports it). */
  constructor(
    patterns: readonly string[] = DEFAULT_TELEMETRY_TOPICS,
    private readonly defaultWorkspace: string = DEFAULT_WORKSPACE,
  ) {
    this.patterns = patterns.map(compilePattern);
  }

  /** MQTT subscription filters covering every pattern (tokens become `+`). */
  subscriptionFilters(): string[] {
    const filters = this.patterns.map((p) =>
      p.levels.map((l) => ('literal' in l ? l.literal : '+')).join('/'),
    );
    return [...new Set(filters)];
  }

  match(topic: string): TopicMatch {
    const levels = topic.split('/');
    for (const p of this.patterns) {
      if (p.levels.length !== levels.length) continue;
      let ok = true;
      for (let i = 0; i < levels.length; i++) {
        const l = p.levels[i]!;
        if ('literal' in l && l.literal !== levels[i]) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      const target: TopicTarget = { workspace: this.defaultWorkspace, twinId: '' };
      for (let i = 0; i < levels.length; i++) {
        const l = p.levels[i]!;
        if ('literal' in l) continue;
        const decoded = decodeLevel(levels[i]!);
        if (decoded === undefined) {
          return {
            kind: 'invalid',
            reason: `Topic level ${i + 1} ('${levels[i]}') is not valid percent-encoding.`,
          };
        }
        if (decoded === '') {
          return { kind: 'invalid', reason: `Topic level ${i + 1} ({${l.token}}) is empty.` };
        }
        switch (l.token) {
          case 'workspace':
            target.workspace = decoded;
            break;
          case 'twinId':
          case 'senderId':
            target.twinId = decoded;
            break;
          case 'component':
            target.component = decoded;
            break;
          case 'modelId':
            target.modelId = decoded;
            break;
        }
      }
      return { kind: 'telemetry', target };
    }
    return { kind: 'other' };
  }
}

/** Builds the topic a device publishes to (ids percent-encoded where they need it). */
export function telemetryTopic(
  twinId: string,
  options: { workspace?: string; component?: string } = {},
): string {
  const ws = options.workspace;
  const base =
    ws === undefined
      ? `twins/${encodeLevel(twinId)}`
      : `twinloop/${encodeLevel(ws)}/twins/${encodeLevel(twinId)}`;
  return options.component === undefined
    ? `${base}/telemetry`
    : `${base}/components/${encodeLevel(options.component)}/telemetry`;
}

/** Percent-encodes only what cannot stand in a topic level: `/`, `+`, `#`, `%` and NUL. */
export function encodeLevel(id: string): string {
  return id.replace(
    // eslint-disable-next-line no-control-regex -- NUL must be escaped: MQTT forbids it in topics
    /[%/+#\u0000]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  );
}

/** Decodes a percent-encoded topic level; undefined when the encoding is bad. */
export function decodeLevel(level: string): string | undefined {
  if (!level.includes('%')) return level;
  try {
    return decodeURIComponent(level);
  } catch {
    return undefined;
  }
}

const LITERAL = /^[!$-*,-.0-z|~]+$/; // printable ASCII without space " + # { } /  (DTDL MQTT label rule)
const TOKEN = /^\{(?:[A-Za-z]+:)?([A-Za-z]+)\}$/;

function compilePattern(source: string): CompiledPattern {
  const parts = source.split('/');
  if (parts[0]?.startsWith('$'))
    throw new Error(`Topic pattern '${source}': the first level must not start with '$'.`);
  const levels = parts.map((part, i) => {
    const t = TOKEN.exec(part);
    if (t) {
      const token = t[1]!;
      if (!TOKENS.has(token)) {
        throw new Error(
          `Topic pattern '${source}': unknown token {${token}} at level ${i + 1} (known: ${[...TOKENS].join(', ')}).`,
        );
      }
      return { token };
    }
    if (!LITERAL.test(part))
      throw new Error(`Topic pattern '${source}': level ${i + 1} ('${part}') is not a valid label.`);
    return { literal: part };
  });
  if (!levels.some((l) => 'token' in l && (l.token === 'twinId' || l.token === 'senderId'))) {
    throw new Error(`Topic pattern '${source}' has no {twinId} (or {senderId}) token.`);
  }
  return { source, levels };
}
