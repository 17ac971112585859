/**
 * The per-(rule, twin) state of the rule engine, bounded in count, with a JSON snapshot that a
 * restart restores. Restore trusts nothing: every field is type-checked, keys live in Maps and
 * null-prototype objects, and pairs of rules that changed version are left out.
 */
import { bufferFromJson } from '../forecast/forecast-buffer.js';
import type { PairInputs } from './compile-rule.js';
import { RATE_POINTS } from './compile-rule.js';

export interface PairState {
  twinId: string;
  inputs: PairInputs;
  /** Source time of the last reading folded in. */
  lastTime?: number;
  /** Raised (condition held for its duration, not yet cleared). */
  active: boolean;
  /** Since when the raise condition has held (waiting for the duration, or raised). */
  since?: number;
  raisedAt?: number;
  lastRaiseAt?: number;
  peak?: number;
  /** Latest judged value and limit (for messages from tick). */
  value?: number;
  limit?: number;
}

const SNAPSHOT_FORMAT = 'twinloop.rules.state/1';

const newInputs = (): PairInputs => ({ latest: Object.create(null) as Record<string, number> });

export class PairStore {
  /** workspace -> ruleId -> twinId -> state (no key strings built per reading). */
  private readonly byWorkspace = new Map<string, Map<string, Map<string, PairState>>>();
  size = 0;
  refused = 0;

  constructor(private readonly maxStates: number) {}

  private twinsOf(workspace: string, ruleId: string): Map<string, PairState> | undefined {
    return this.byWorkspace.get(workspace)?.get(ruleId);
  }

  getOrCreate(workspace: string, ruleId: string, twinId: string): PairState | undefined {
    let twins = this.twinsOf(workspace, ruleId);
    const found = twins?.get(twinId);
    if (found) return found;
    if (this.size >= this.maxStates) {
      this.refused++;
      return undefined;
    }
    if (!twins) {
      let rules = this.byWorkspace.get(workspace);
      if (!rules) this.byWorkspace.set(workspace, (rules = new Map()));
      rules.set(ruleId, (twins = new Map()));
    }
    const s: PairState = { twinId, inputs: newInputs(), active: false };
    twins.set(twinId, s);
    this.size++;
    return s;
  }

  get(workspace: string, ruleId: string, twinId: string): PairState | undefined {
    return this.twinsOf(workspace, ruleId)?.get(twinId);
  }

  statesOf(workspace: string, ruleId: string): Iterable<PairState> {
    return this.twinsOf(workspace, ruleId)?.values() ?? [];
  }

  /** Removes a rule's pairs and returns them. */
  drop(workspace: string, ruleId: string): PairState[] {
    const rules = this.byWorkspace.get(workspace);
    const twins = rules?.get(ruleId);
    if (!rules || !twins) return [];
    rules.delete(ruleId);
    this.size -= twins.size;
    return [...twins.values()];
  }

  forgetTwin(workspace: string, twinId: string): void {
    for (const twins of this.byWorkspace.get(workspace)?.values() ?? [])
      if (twins.delete(twinId)) this.size--;
  }

  snapshot(versionOf: (workspace: string, ruleId: string) => number | undefined): unknown {
    const rules: unknown[] = [];
    for (const [workspace, byRule] of this.byWorkspace)
      for (const [ruleId, twins] of byRule) {
        const ruleVersion = versionOf(workspace, ruleId);
        if (ruleVersion === undefined) continue;
        rules.push({ workspace, ruleId, ruleVersion, pairs: [...twins.values()].map(toJson) });
      }
    return { format: SNAPSHOT_FORMAT, rules };
  }

  restore(snapshot: unknown, versionOf: (workspace: string, ruleId: string) => number | undefined): number {
    if (!isObj(snapshot) || snapshot.format !== SNAPSHOT_FORMAT || !Array.isArray(snapshot.rules)) return 0;
    let restored = 0;
    for (const r of snapshot.rules as unknown[]) {
      if (!isObj(r) || typeof r.workspace !== 'string' || typeof r.ruleId !== 'string') continue;
      if (!Array.isArray(r.pairs) || versionOf(r.workspace, r.ruleId) !== r.ruleVersion) continue;
      for (const p of r.pairs as unknown[]) {
        const s = fromJson(p);
        if (!s) continue;
        const target = this.getOrCreate(r.workspace, r.ruleId, s.twinId);
        if (!target) return restored;
        Object.assign(target, s);
        restored++;
      }
    }
    return restored;
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toJson(s: PairState): unknown {
  return { ...s, inputs: { ...s.inputs, latest: Object.entries(s.inputs.latest) } };
}

const ownField = (o: Record<string, unknown>, k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function fromJson(v: unknown): PairState | undefined {
  if (!isObj(v) || typeof v.twinId !== 'string' || typeof v.active !== 'boolean' || !isObj(v.inputs))
    return undefined;
  const inputs = newInputs();
  const latest = v.inputs.latest;
  if (Array.isArray(latest))
    for (const e of latest.slice(0, 256) as unknown[])
      if (Array.isArray(e) && typeof e[0] === 'string' && finite(e[1])) inputs.latest[e[0]] = e[1];
  if (finite(v.inputs.lastSeen)) inputs.lastSeen = v.inputs.lastSeen;
  const w = v.inputs.window;
  if (Array.isArray(w) && w.length % 2 === 0 && w.length <= RATE_POINTS * 2 && w.every(finite))
    inputs.window = [...w];
  const buffer = bufferFromJson(v.inputs.buffer);
  if (buffer) inputs.buffer = buffer;
  const fit = isObj(v.inputs.fit) ? v.inputs.fit : undefined;
  // Own fields only: a snapshot is data, its prototype is nobody's business.
  const at = fit && ownField(fit, 'at');
  const limit = fit && ownField(fit, 'limit');
  const probability = fit && ownField(fit, 'probability');
  if (finite(at) && finite(limit) && finite(probability) && probability >= 0 && probability <= 1) {
    const cross = ownField(fit!, 'cross');
    const clear = ownField(fit!, 'clear');
    inputs.fit = {
      at,
      limit,
      probability,
      ...(finite(cross) ? { cross } : {}),
      ...(finite(clear) ? { clear } : {}),
    };
  }
  const s: PairState = { twinId: v.twinId, inputs, active: v.active };
  for (const k of ['lastTime', 'since', 'raisedAt', 'lastRaiseAt', 'peak', 'value', 'limit'] as const) {
    const x = v[k];
    if (finite(x)) s[k] = x;
  }
  return s;
}
