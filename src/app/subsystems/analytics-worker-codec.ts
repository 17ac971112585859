/**
 * The compact form of the analytics worker's hot messages (analytics-worker-protocol.ts): the
 * telemetry the ingest thread forwards, and the derived values and property values the worker sends
 * back. Structured-cloning them cost ~3.4 µs per message (one object per event and per values set,
 * every string in full each time: workspace, twin id, model id, value names); here the numbers of a
 * batch go in one Float64Array (its buffer transferred, not copied) and each string once per run:
 * the encoder numbers every string and every set of value names ("shape") the first time it sends
 * it, and the decoder keeps them in the same order.
 *
 * Only what round-trips exactly is compacted: a values set whose values are all numbers or
 * booleans (a boolean's type is part of its shape; a number is any float64, -0, NaN and ±Infinity
 * included). Anything else (strings, objects, null, lifecycle events, replica updates) goes in
 * `rest`, structured-cloned as before, in its place in the order. Decoded values objects are plain
 * objects with their own keys in the same order; `__proto__` stays an own data property.
 *
 * Bounded: when the tables hold more than `maxStrings` strings or `maxShapes` shapes at the start
 * of a batch, both sides start afresh (`reset` in that batch).
 */
import type {
  DerivedPropertySink,
  DerivedSink,
  PropertyWritePolicy,
} from '../../analytics/analytics-types.js';
import type { LiveEvent } from '../../core/live/live-events.js';
import { setOwnKey } from '../../core/json/own-key.js';

/** One batch on the wire. */
export interface WireBatch {
  /** The tables were cleared before this batch (on both sides). */
  reset?: true;
  /** Strings new in this batch, numbered in order after those already sent. */
  strings: string[];
  /** Shapes new in this batch: [name id, kind (0 number, 1 boolean)] pairs, flattened. */
  shapes: number[][];
  /** The records (see the encoders). */
  nums: Float64Array;
}

const NUMBER = 0;
const BOOLEAN = 1;

interface ShapeNode {
  next: Map<number, ShapeNode>;
  id: number;
}

/** The encoding side of a wire: string and shape tables, and the batch under construction. */
export class WireEncoder {
  private strings = new Map<string, number>();
  private shapeRoot: ShapeNode = { next: new Map(), id: -1 };
  private shapeCount = 0;
  private freshStrings: string[] = [];
  private freshShapes: number[][] = [];
  private buf = new Float64Array(1024);
  private len = 0;
  private reset = false;
  /** The last shape seen, to skip the table walk when the next set has the same names. */
  private lastNames: string[] = [];
  private lastKinds: number[] = [];
  private lastShape = -1;
  /** Counts the resets: ids cached by a caller are good while it is unchanged. */
  generation = 0;
  /** Scratch of one shapeOf call. */
  private readonly names: string[] = [];
  private readonly kinds: number[] = [];

  constructor(
    private readonly maxStrings = 100_000,
    private readonly maxShapes = 10_000,
  ) {}

  /** True when no record waits. */
  get empty(): boolean {
    return this.len === 0;
  }

  /** The id of a string (sent with the batch the first time). */
  str(s: string): number {
    let id = this.strings.get(s);
    if (id === undefined) {
      id = this.strings.size;
      this.strings.set(s, id);
      this.freshStrings.push(s);
    }
    return id;
  }

  num(x: number): void {
    if (this.len === this.buf.length) {
      const b = new Float64Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    this.buf[this.len++] = x;
  }

  /**
   * The shape id of a values set whose values are all numbers or booleans, or -1 when one is of
   * another type (nothing is appended either way). Then writeValues(values) appends them.
   */
  shape(values: Readonly<Record<string, unknown>>): number {
    const names = this.names;
    const kinds = this.kinds;
    names.length = 0;
    kinds.length = 0;
    for (const k in values) {
      if (!Object.hasOwn(values, k)) continue;
      const t = typeof values[k];
      if (t === 'number') kinds.push(NUMBER);
      else if (t === 'boolean') kinds.push(BOOLEAN);
      else return -1;
      names.push(k);
    }
    return this.shapeOf(names, kinds);
  }

  /** Appends the values of the set whose shape() was just taken (its shape id first). */
  writeValues(shape: number, values: Readonly<Record<string, unknown>>): void {
    this.num(shape);
    const names = this.names;
    const kinds = this.kinds;
    for (let i = 0; i < names.length; i++) {
      const v = values[names[i] as string];
      this.num(kinds[i] === BOOLEAN ? (v ? 1 : 0) : (v as number));
    }
  }

  /** The batch so far (undefined when empty); the tables are kept for the next. */
  take(): WireBatch | undefined {
    if (this.len === 0 && this.freshStrings.length === 0 && this.freshShapes.length === 0 && !this.reset)
      return undefined;
    const batch: WireBatch = {
      ...(this.reset ? { reset: true as const } : {}),
      strings: this.freshStrings,
      shapes: this.freshShapes,
      nums: this.buf.slice(0, this.len),
    };
    this.freshStrings = [];
    this.freshShapes = [];
    this.len = 0;
    this.reset = false;
    return batch;
  }

  /** Call before the first record of a batch: starts the tables afresh when they are too large. */
  begin(): void {
    if (this.len > 0) return;
    if (this.strings.size <= this.maxStrings && this.shapeCount <= this.maxShapes) return;
    this.strings = new Map();
    this.shapeRoot = { next: new Map(), id: -1 };
    this.shapeCount = 0;
    this.freshStrings = [];
    this.freshShapes = [];
    this.lastNames = [];
    this.lastKinds = [];
    this.lastShape = -1;
    this.generation++;
    this.reset = true;
  }

  private shapeOf(names: readonly string[], kinds: readonly number[]): number {
    const ln = this.lastNames;
    if (ln.length === names.length && this.lastShape >= 0) {
      let same = true;
      for (let i = 0; i < names.length && same; i++)
        same = ln[i] === names[i] && this.lastKinds[i] === kinds[i];
      if (same) return this.lastShape;
    }
    let node = this.shapeRoot;
    for (let i = 0; i < names.length; i++) {
      const key = this.str(names[i] as string) * 2 + (kinds[i] as number);
      let next = node.next.get(key);
      if (next === undefined) node.next.set(key, (next = { next: new Map(), id: -1 }));
      node = next;
    }
    if (node.id < 0) {
      node.id = this.shapeCount++;
      const flat: number[] = [];
      for (let i = 0; i < names.length; i++) flat.push(this.str(names[i] as string), kinds[i] as number);
      this.freshShapes.push(flat);
    }
    this.lastNames = names.slice();
    this.lastKinds = kinds.slice();
    this.lastShape = node.id;
    return node.id;
  }
}

/** The decoding side: the tables, kept in step with the encoder's batches. */
export class WireDecoder {
  private strings: string[] = [];
  private shapes: { names: string[]; kinds: number[] }[] = [];
  nums: Float64Array = new Float64Array(0);
  /** Read position in `nums`. */
  at = 0;

  /** Takes a batch's tables; then read its records with num(), str() and values(). */
  begin(b: WireBatch): void {
    if (b.reset) {
      this.strings = [];
      this.shapes = [];
    }
    for (const s of b.strings) this.strings.push(s);
    for (const flat of b.shapes) {
      const names: string[] = [];
      const kinds: number[] = [];
      for (let i = 0; i < flat.length; i += 2) {
        names.push(this.string(flat[i] as number));
        kinds.push(flat[i + 1] === BOOLEAN ? BOOLEAN : NUMBER);
      }
      this.shapes.push({ names, kinds });
    }
    this.nums = b.nums;
    this.at = 0;
  }

  get done(): boolean {
    return this.at >= this.nums.length;
  }

  num(): number {
    if (this.at >= this.nums.length) throw new Error('analytics wire: batch ended early');
    return this.nums[this.at++] as number;
  }

  str(): string {
    return this.string(this.num());
  }

  /** A values set (its shape id, then its values) as a plain object. */
  values(): Record<string, number | boolean> {
    const shape = this.shapes[this.num()];
    if (shape === undefined) throw new Error('analytics wire: unknown shape');
    const { names, kinds } = shape;
    const out: Record<string, number | boolean> = {};
    for (let i = 0; i < names.length; i++) {
      const x = this.num();
      const v = kinds[i] === BOOLEAN ? x !== 0 : x;
      const name = names[i] as string;
      setOwnKey(out, name, v);
    }
    return out;
  }

  string(id: number): string {
    const s = this.strings[id];
    if (s === undefined) throw new Error('analytics wire: unknown string');
    return s;
  }
}

// ---- ingest thread → worker: the committed events in order

/** Record tags. */
const TELEMETRY = 0;
const REST = 1;

/** Events and replica updates to the worker: telemetry compacted, the rest as they are. */
export class ItemEncoder<Item> {
  private readonly w: WireEncoder;
  private rest: Item[] = [];
  private ws: string | undefined;
  private wsId = -1;
  private model: string | undefined;
  private modelId = -1;
  private generation = -1;

  constructor(maxStrings?: number, maxShapes?: number) {
    this.w = new WireEncoder(maxStrings, maxShapes);
  }

  get empty(): boolean {
    return this.w.empty;
  }

  /** A committed event (or replica update) in its place in the order. */
  add(item: Item): void {
    this.w.begin();
    const e = item as LiveEvent;
    if (e.type === 'telemetry' && this.telemetry(e)) return;
    this.w.num(REST);
    this.rest.push(item);
  }

  /** The batch of what was added since the last take (undefined when nothing was). */
  take(): { wire: WireBatch; rest: Item[] } | undefined {
    const wire = this.w.take();
    if (wire === undefined) return undefined;
    const rest = this.rest;
    this.rest = [];
    return { wire, rest };
  }

  private telemetry(e: Telemetry): boolean {
    const w = this.w;
    // Every field of a telemetry event is carried (TELEMETRY_FIELDS: the compiler checks the list).
    if (
      typeof e.time !== 'number' ||
      (e.derived !== undefined && e.derived !== true) ||
      typeof e.values !== 'object' ||
      e.values === null ||
      !plainObject(e.values)
    )
      return false;
    const shape = w.shape(e.values);
    if (shape < 0) return false;
    // The same workspace and model come again and again: a comparison instead of a lookup.
    if (e.workspace !== this.ws || e.modelId !== this.model || w.generation !== this.generation) {
      this.ws = e.workspace;
      this.wsId = w.str(e.workspace);
      this.model = e.modelId;
      this.modelId = w.str(e.modelId);
      this.generation = w.generation;
    }
    w.num(TELEMETRY);
    w.num(this.wsId);
    w.num(w.str(e.twinId));
    w.num(this.modelId);
    w.num(e.component === undefined ? -1 : w.str(e.component));
    w.num(e.time);
    w.num(e.derived === true ? 1 : 0);
    w.writeValues(shape, e.values);
    return true;
  }
}

type Telemetry = Extract<LiveEvent, { type: 'telemetry' }>;
/** The fields ItemEncoder carries: adding one to the telemetry event fails to compile until it is carried too. */
export const TELEMETRY_FIELDS: Record<keyof Telemetry, true> = {
  type: true,
  workspace: true,
  twinId: true,
  modelId: true,
  component: true,
  time: true,
  values: true,
  derived: true,
};

/** Decodes a batch of ItemEncoder into the items, in order. */
export class ItemDecoder<Item> {
  private readonly r = new WireDecoder();

  decode(wire: WireBatch, rest: readonly Item[]): Item[] {
    const r = this.r;
    r.begin(wire);
    const out: Item[] = [];
    let k = 0;
    while (!r.done) {
      const tag = r.num();
      if (tag === REST) {
        if (k >= rest.length) throw new Error('analytics wire: missing item');
        out.push(rest[k++] as Item);
        continue;
      }
      if (tag !== TELEMETRY) throw new Error('analytics wire: unknown record');
      const workspace = r.str();
      const twinId = r.str();
      const modelId = r.str();
      const c = r.num();
      const component = c < 0 ? undefined : r.string(c);
      const time = r.num();
      const derived = r.num() === 1;
      const values = r.values();
      const e: Extract<LiveEvent, { type: 'telemetry' }> =
        component === undefined
          ? { type: 'telemetry', workspace, twinId, modelId, time, values }
          : { type: 'telemetry', workspace, twinId, modelId, component, time, values };
      if (derived) e.derived = true;
      out.push(e as Item);
    }
    return out;
  }
}

/** An object structured clone copies as a plain object (no array, no Map, no class instance). */
function plainObject(o: object): boolean {
  const p: unknown = Object.getPrototypeOf(o);
  return p === Object.prototype || p === null;
}

// ---- worker → ingest thread: derived values and property values

const DERIVED = 0;
const PROPERTY = 1;

/** The policies of derived properties on the wire: sent once each (they are the definitions'). */
export interface OutBatch {
  wire: WireBatch;
  /** Policies new in this batch, numbered in order after those already sent. */
  policies: PropertyWritePolicy[];
  /** The policy table was cleared before this batch. */
  policiesReset?: true;
}

/** What the worker's operators decided, compacted (analytics-worker.ts). */
export class OutEncoder {
  private readonly w: WireEncoder;
  private policyIds = new Map<object, number>();
  private freshPolicies: PropertyWritePolicy[] = [];
  private policiesReset = false;

  constructor(
    maxStrings?: number,
    maxShapes?: number,
    private readonly maxPolicies = 10_000,
  ) {
    this.w = new WireEncoder(maxStrings, maxShapes);
  }

  get empty(): boolean {
    return this.w.empty;
  }

  /** A set of derived values (finite numbers: the writer's) of a twin at a time. */
  derived(workspace: string, twinId: string, time: number, values: Readonly<Record<string, number>>): void {
    const w = this.w;
    w.begin();
    const shape = w.shape(values);
    if (shape < 0) throw new Error('analytics wire: derived values are numbers');
    w.num(DERIVED);
    w.num(w.str(workspace));
    w.num(w.str(twinId));
    w.num(time);
    w.writeValues(shape, values);
  }

  /** A derived property value. */
  property(
    workspace: string,
    twinId: string,
    time: number,
    name: string,
    value: number,
    policy: Readonly<PropertyWritePolicy>,
  ): void {
    const w = this.w;
    w.begin();
    if (w.empty && this.policyIds.size > this.maxPolicies) {
      this.policyIds = new Map();
      this.freshPolicies = [];
      this.policiesReset = true;
    }
    let p = this.policyIds.get(policy);
    if (p === undefined) {
      p = this.policyIds.size;
      this.policyIds.set(policy, p);
      this.freshPolicies.push({ ...policy });
    }
    w.num(PROPERTY);
    w.num(w.str(workspace));
    w.num(w.str(twinId));
    w.num(time);
    w.num(w.str(name));
    w.num(value);
    w.num(p);
  }

  take(): OutBatch | undefined {
    const wire = this.w.take();
    if (wire === undefined) return undefined;
    const out: OutBatch = {
      wire,
      policies: this.freshPolicies,
      ...(this.policiesReset ? { policiesReset: true as const } : {}),
    };
    this.freshPolicies = [];
    this.policiesReset = false;
    return out;
  }
}

/** Where decoded outputs go (the ingest thread's writers). */
export interface OutSinks {
  derived: DerivedSink['write'];
  property: DerivedPropertySink['write'];
}

export class OutDecoder {
  private readonly r = new WireDecoder();
  private policies: Readonly<PropertyWritePolicy>[] = [];

  /** Hands each record of the batch to its sink, in order. */
  decode(b: OutBatch, sinks: OutSinks): void {
    if (b.policiesReset) this.policies = [];
    for (const p of b.policies) this.policies.push(p);
    const r = this.r;
    r.begin(b.wire);
    while (!r.done) {
      const tag = r.num();
      const workspace = r.str();
      const twinId = r.str();
      const time = r.num();
      if (tag === DERIVED) {
        sinks.derived(workspace, twinId, time, r.values() as Record<string, number>);
        continue;
      }
      if (tag !== PROPERTY) throw new Error('analytics wire: unknown record');
      const name = r.str();
      const value = r.num();
      const policy = this.policies[r.num()];
      if (policy === undefined) throw new Error('analytics wire: unknown policy');
      sinks.property(workspace, twinId, time, name, value, policy);
    }
  }
}
