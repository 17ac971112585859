/**
 * What-if jobs: a request is checked in full (every problem at once, with its JSON pointer), turned
 * into a plan — which twins, where each starts from (the live simulator's state, else its shadow's,
 * else the model), what changes when — and queued; at most `maxRunning` run at once, the rest wait.
 * Finished jobs are kept (results included) for `keepMs` and at most `maxKept`, oldest first out.
 */
import { randomUUID } from 'node:crypto';
import { TwinloopError, type Problem } from '../../core/errors/errors.js';
import type { BehaviourCatalog } from '../behaviour/behaviour-catalog.js';
import type { CompiledBehaviour } from '../behaviour/compile-behaviour.js';
import { idealTelemetry } from '../behaviour/ideal-telemetry.js';
import { parseDuration } from './duration.js';
import { runWhatIf, type PlannedEvent, type PlannedTwin, type WhatIfPlan } from './what-if-engine.js';
import type {
  ForkSource,
  WhatIfJob,
  WhatIfRequest,
  WhatIfResult,
  WhatIfTwinChanges,
  WhatIfWorld,
} from './what-if-types.js';

export interface WhatIfLimits {
  /** Most twins in one run (default 1,000). */
  maxTwins: number;
  /** Most samples per twin (default 100,000). */
  maxSamples: number;
  /** Most solver steps per twin (horizon / step; default 10,000,000). */
  maxSteps: number;
  /** Longest horizon, seconds (default 366 days). */
  maxHorizon: number;
}

export interface WhatIfServiceOptions {
  catalog: BehaviourCatalog;
  world: WhatIfWorld;
  /** Lets other work run between chunks (setImmediate in the platform). */
  yieldNow: () => Promise<void>;
  limits?: Partial<WhatIfLimits>;
  /** Runs at once (default 2); the others wait in order. */
  maxRunning?: number;
  /** Finished jobs kept (default 50) and for how long (default 1 h). */
  maxKept?: number;
  keepMs?: number;
  now?: () => number;
}

interface Entry {
  job: WhatIfJob;
  plan: WhatIfPlan;
  result?: WhatIfResult;
  abort: AbortController;
  done: Promise<void>;
  resolveDone: () => void;
}

const DEFAULT_LIMITS: WhatIfLimits = {
  maxTwins: 1000,
  maxSamples: 100_000,
  maxSteps: 10_000_000,
  maxHorizon: 366 * 86_400,
};

const asNumber = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'boolean' ? (v ? 1 : 0) : undefined;

export class WhatIfService {
  private readonly jobs = new Map<string, Entry>();
  private readonly queue: Entry[] = [];
  private running = 0;
  private readonly limits: WhatIfLimits;

  constructor(private readonly o: WhatIfServiceOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...o.limits };
  }

  /**
   * Checks and queues a run. @throws TwinloopError BadRequest listing every problem (with pointers),
   * DigitalTwinNotFound for an unknown twin.
   */
  create(request: unknown): WhatIfJob {
    const plan = this.plan(request);
    const r = request as WhatIfRequest;
    let resolveDone!: () => void;
    const done = new Promise<void>((res) => (resolveDone = res));
    const job: WhatIfJob = {
      id: randomUUID(),
      ...(typeof r.name === 'string' ? { name: r.name } : {}),
      status: 'queued',
      progress: 0,
      simulatedSeconds: 0,
      horizon: plan.plan.horizon,
      sampleInterval: plan.plan.sampleInterval,
      method: plan.plan.method,
      twins: plan.plan.twins.map((t) => t.twinId),
      skipped: plan.skipped,
      createdAt: new Date(this.now()).toISOString(),
    };
    const entry: Entry = { job, plan: plan.plan, abort: new AbortController(), done, resolveDone };
    this.prune();
    this.jobs.set(job.id, entry);
    this.queue.push(entry);
    this.pump();
    return { ...job };
  }

  get(id: string): WhatIfJob {
    return { ...this.entry(id).job };
  }

  list(): WhatIfJob[] {
    this.prune();
    return [...this.jobs.values()].map((e) => ({ ...e.job })).reverse();
  }

  /** The trajectories. @throws NotFound; Conflict while the job has not succeeded. */
  result(id: string): WhatIfResult {
    const e = this.entry(id);
    if (!e.result)
      throw new TwinloopError(
        'Conflict',
        `Simulation ${id} is ${e.job.status}${e.job.error ? ` (${e.job.error.message})` : ''}: it has no trajectories${e.job.status === 'running' || e.job.status === 'queued' ? ' yet' : ''}.`,
      );
    return e.result;
  }

  /** Cancels a queued or running job (a finished one is left as it is). @throws NotFound. */
  cancel(id: string): WhatIfJob {
    const e = this.entry(id);
    if (e.job.status === 'queued') {
      this.queue.splice(this.queue.indexOf(e), 1);
      this.finish(e, 'cancelled');
    } else if (e.job.status === 'running') e.abort.abort();
    return { ...e.job };
  }

  /** Resolves when the job has finished or `ms` has passed; returns it then. */
  async wait(id: string, ms: number): Promise<WhatIfJob> {
    const e = this.entry(id);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([e.done, new Promise<void>((res) => (timer = setTimeout(res, ms)))]);
    clearTimeout(timer);
    return { ...e.job };
  }

  /** Cancels everything (platform shutdown). */
  close(): void {
    for (const e of this.jobs.values())
      if (e.job.status === 'queued' || e.job.status === 'running') this.cancel(e.job.id);
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  private entry(id: string): Entry {
    const e = this.jobs.get(id);
    if (!e)
      throw new TwinloopError(
        'NotFound',
        `There is no simulation '${id}' (finished runs are kept for a while only).`,
      );
    return e;
  }

  private prune(): void {
    const keepMs = this.o.keepMs ?? 3_600_000;
    const maxKept = this.o.maxKept ?? 50;
    const finished = [...this.jobs.values()].filter((e) => e.job.finishedAt !== undefined);
    const cutoff = this.now() - keepMs;
    finished.forEach((e, i) => {
      if (Date.parse(e.job.finishedAt as string) < cutoff || finished.length - i > maxKept)
        this.jobs.delete(e.job.id);
    });
  }

  private pump(): void {
    while (this.running < (this.o.maxRunning ?? 2) && this.queue.length) {
      const e = this.queue.shift() as Entry;
      this.running++;
      e.job.status = 'running';
      e.job.startedAt = new Date(this.now()).toISOString();
      runWhatIf(e.plan, {
        signal: e.abort.signal,
        yieldNow: this.o.yieldNow,
        onProgress: (s) => {
          e.job.simulatedSeconds = s;
          e.job.progress = e.plan.horizon > 0 ? Math.min(1, s / e.plan.horizon) : 1;
        },
      }).then(
        (result) => {
          e.result = result;
          this.finish(e, 'succeeded');
        },
        (err: unknown) => {
          if (e.abort.signal.aborted) this.finish(e, 'cancelled');
          else {
            const te = err instanceof TwinloopError ? err : undefined;
            e.job.error = { code: te?.code ?? 'InternalError', message: (err as Error).message };
            this.finish(e, 'failed');
          }
        },
      );
    }
  }

  private finish(e: Entry, status: 'succeeded' | 'failed' | 'cancelled'): void {
    const wasRunning = e.job.status === 'running';
    e.job.status = status;
    e.job.finishedAt = new Date(this.now()).toISOString();
    e.resolveDone();
    if (wasRunning) {
      this.running--;
      this.pump();
    }
  }

  // ------------------------------------------------------------------ planning

  private plan(request: unknown): { plan: WhatIfPlan; skipped: WhatIfJob['skipped'] } {
    const problems: Problem[] = [];
    const problem = (pointer: string, message: string, code = 'whatif.request'): void => {
      problems.push({ code, message, pointer, source: 'request body' });
    };
    const fail = (): never => {
      throw new TwinloopError(
        'BadRequest',
        `The simulation request is invalid: ${problems.map((p) => `${p.pointer || '/'}: ${p.message}`).join('; ')}`,
        { problems },
      );
    };
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      problem('', 'The body must be a JSON object.');
      fail();
    }
    const r = request as Record<string, unknown>;
    const known = [
      'name',
      'twins',
      'root',
      'follow',
      'depth',
      'horizon',
      'sampleInterval',
      'method',
      'step',
      'changes',
      'events',
    ];
    for (const k of Object.keys(r))
      if (!known.includes(k)) problem(`/${k}`, `Unknown field '${k}' (known: ${known.join(', ')}).`);
    const L = this.limits;

    const horizon = parseDuration(r.horizon);
    if (r.horizon === undefined)
      problem('/horizon', "'horizon' is required: seconds or a duration such as '24h'.");
    else if (horizon === undefined || horizon <= 0)
      problem(
        '/horizon',
        `'horizon' must be a positive duration (seconds, '90min', '24h', '7d'), not ${JSON.stringify(r.horizon)}.`,
      );
    else if (horizon > L.maxHorizon) problem('/horizon', `'horizon' is at most ${L.maxHorizon} s.`);
    const method = r.method ?? 'rk4';
    if (method !== 'rk4' && method !== 'dopri5') problem('/method', "'method' is 'rk4' or 'dopri5'.");
    const step = r.step === undefined ? (method === 'dopri5' ? 60 : 1) : parseDuration(r.step);
    if (step === undefined || step <= 0) problem('/step', "'step' must be a positive number of seconds.");
    const H = horizon ?? 0;
    let sampleInterval =
      r.sampleInterval === undefined ? Math.max(step ?? 1, H / 500) : parseDuration(r.sampleInterval);
    if (sampleInterval === undefined || sampleInterval <= 0) {
      problem('/sampleInterval', "'sampleInterval' must be a positive duration.");
      sampleInterval = 1;
    }
    if (H > 0 && H / sampleInterval > L.maxSamples)
      problem(
        '/sampleInterval',
        `${Math.ceil(H / sampleInterval)} samples per twin: at most ${L.maxSamples}; take a larger 'sampleInterval'.`,
      );
    if (H > 0 && step && method === 'rk4' && H / step > L.maxSteps)
      problem(
        '/step',
        `${Math.ceil(H / step)} steps per twin: at most ${L.maxSteps}; take a larger 'step' or 'dopri5'.`,
      );

    // ---- which twins
    const ids: string[] = [];
    const seen = new Set<string>();
    const add = (id: string): void => {
      if (!seen.has(id)) {
        seen.add(id);
        ids.push(id);
      }
    };
    if (r.twins !== undefined) {
      if (!Array.isArray(r.twins) || r.twins.some((t) => typeof t !== 'string'))
        problem('/twins', "'twins' must be an array of twin ids.");
      else (r.twins as string[]).forEach(add);
    }
    if (r.root !== undefined) {
      if (typeof r.root !== 'string') problem('/root', "'root' must be a twin id.");
      else {
        const follow = r.follow;
        if (follow !== undefined && (!Array.isArray(follow) || follow.some((f) => typeof f !== 'string')))
          problem('/follow', "'follow' must be an array of relationship names.");
        const depth = r.depth === undefined ? Infinity : r.depth;
        if (typeof depth !== 'number' || !(depth >= 0)) problem('/depth', "'depth' must be a number ≥ 0.");
        if (this.o.world.modelOf(r.root) !== undefined) {
          const names = Array.isArray(follow) ? new Set(follow as string[]) : undefined;
          let frontier = [r.root];
          add(r.root);
          for (let d = 0; frontier.length && d < (depth as number); d++) {
            const next: string[] = [];
            for (const id of frontier)
              for (const rel of this.o.world.outgoing(id))
                if ((!names || names.has(rel.name)) && !seen.has(rel.targetId)) {
                  add(rel.targetId);
                  next.push(rel.targetId);
                }
            frontier = next;
            if (ids.length > L.maxTwins * 10) break;
          }
        } else add(r.root);
      }
    }
    if (r.twins === undefined && r.root === undefined)
      problem('', "Name the twins to run: 'twins' and/or 'root'.");
    const missing = ids.filter((id) => this.o.world.modelOf(id) === undefined);
    if (missing.length)
      throw new TwinloopError(
        'DigitalTwinNotFound',
        `There is no digital twin with id ${missing.map((m) => `'${m}'`).join(', ')}.`,
      );

    const skipped: WhatIfJob['skipped'] = [];
    const chosen: { id: string; model: CompiledBehaviour }[] = [];
    for (const id of ids) {
      const modelId = this.o.world.modelOf(id) as string;
      const entry = this.o.catalog.forModel(modelId);
      if (entry) chosen.push({ id, model: entry.model });
      else if (r.root !== undefined && !(Array.isArray(r.twins) && r.twins.includes(id)))
        skipped.push({ twinId: id, reason: `model ${modelId} has no behaviour` });
      else
        problem(
          `/twins`,
          `Twin '${id}' (model ${modelId}) has no behaviour to simulate.`,
          'whatif.noBehaviour',
        );
    }
    if (chosen.length > L.maxTwins)
      problem('/twins', `${chosen.length} twins: at most ${L.maxTwins} in one run.`);
    if (chosen.length === 0 && problems.length === 0)
      problem('/twins', 'None of these twins has a behaviour to simulate.');
    const indexOf = new Map(chosen.map((c, i) => [c.id, i]));

    // ---- changes
    const changes = (r.changes ?? {}) as Record<string, unknown>;
    if (typeof changes !== 'object' || changes === null || Array.isArray(changes))
      problem('/changes', "'changes' must be an object keyed by twin id (or '*').");
    const changesFor = (id: string): WhatIfTwinChanges[] =>
      [changes['*'], changes[id]].filter((c): c is WhatIfTwinChanges => typeof c === 'object' && c !== null);
    for (const [key, c] of Object.entries(changes)) {
      const base = `/changes/${escapePointer(key)}`;
      if (key !== '*' && !indexOf.has(key)) {
        problem(base, `Twin '${key}' is not simulated in this run.`);
        continue;
      }
      if (typeof c !== 'object' || c === null) {
        problem(base, 'Changes are an object { parameters?, inputs?, states? }.');
        continue;
      }
      const models =
        key === '*'
          ? chosen.map((x) => x.model)
          : [chosen[indexOf.get(key) as number]?.model as CompiledBehaviour];
      for (const [field, names] of [
        ['parameters', (m: CompiledBehaviour) => m.layout.parameters],
        ['inputs', (m: CompiledBehaviour) => m.layout.inputs],
        ['states', (m: CompiledBehaviour) => m.layout.states],
      ] as const) {
        const v = (c as Record<string, unknown>)[field];
        if (v === undefined) continue;
        if (typeof v !== 'object' || v === null) {
          problem(`${base}/${field}`, `'${field}' is an object of numbers.`);
          continue;
        }
        for (const [name, value] of Object.entries(v as Record<string, unknown>)) {
          if (typeof value !== 'number' || !Number.isFinite(value))
            problem(`${base}/${field}/${escapePointer(name)}`, `'${name}' must be a finite number.`);
          const missingIn = models.filter((m) => !names(m).includes(name));
          if (missingIn.length && key !== '*')
            problem(
              `${base}/${field}/${escapePointer(name)}`,
              `Behaviour '${missingIn[0]?.spec.behaviour}' has no ${field.slice(0, -1)} '${name}' (it has: ${names(missingIn[0] as CompiledBehaviour).join(', ') || 'none'}).`,
            );
        }
      }
      for (const k of Object.keys(c))
        if (!['parameters', 'inputs', 'states'].includes(k))
          problem(`${base}/${escapePointer(k)}`, `Unknown change '${k}' (parameters, inputs, states).`);
    }

    // ---- events
    const events: PlannedEvent[] = [];
    const evs = r.events ?? [];
    if (!Array.isArray(evs)) problem('/events', "'events' must be an array.");
    else
      evs.forEach((raw: unknown, n) => {
        const base = `/events/${n}`;
        if (typeof raw !== 'object' || raw === null) return problem(base, 'An event is an object.');
        const e = raw as Record<string, unknown>;
        const at = parseDuration(e.at);
        if (at === undefined)
          problem(`${base}/at`, "'at' is the time after the fork: seconds or a duration ('2h').");
        else if (horizon !== undefined && at > horizon)
          problem(`${base}/at`, `'at' (${at} s) is after the horizon (${horizon} s).`);
        const twin = typeof e.twin === 'string' ? indexOf.get(e.twin) : undefined;
        if (twin === undefined)
          return problem(
            `${base}/twin`,
            `'twin' must name a twin of this run${typeof e.twin === 'string' ? ` ('${e.twin}' is not one)` : ''}.`,
          );
        const model = (chosen[twin] as { model: CompiledBehaviour }).model;
        const kinds = ['command', 'fault', 'input'].filter((k) => e[k] !== undefined);
        if (kinds.length !== 1)
          return problem(base, "An event has exactly one of 'command', 'fault' or 'input'.");
        let apply: PlannedEvent['apply'] | undefined;
        if (typeof e.command === 'string') {
          const cmd = e.command;
          let count = 0;
          try {
            count = model.applyCommand(model.createRuntime(), 0, cmd, e.payload);
          } catch (x) {
            problem(`${base}/payload`, (x as Error).message);
          }
          if (count === 0 && !problems.some((p) => p.pointer === `${base}/payload`))
            problem(
              `${base}/command`,
              `Behaviour '${model.spec.behaviour}' does not handle command '${cmd}'.`,
            );
          apply = (m, rt, t) => void m.applyCommand(rt, t, cmd, e.payload);
        } else if (typeof e.fault === 'string') {
          const f = e.fault;
          if (!model.layout.faults.includes(f))
            problem(
              `${base}/fault`,
              `Behaviour '${model.spec.behaviour}' has no fault '${f}' (it has: ${model.layout.faults.join(', ') || 'none'}).`,
            );
          apply =
            e.off === true ? (m, rt) => m.deactivateFault(rt, f) : (m, rt, t) => m.activateFault(rt, f, t);
        } else if (typeof e.input === 'string') {
          const name = e.input;
          const value = e.value;
          if (!model.layout.inputs.includes(name))
            problem(
              `${base}/input`,
              `Behaviour '${model.spec.behaviour}' has no input '${name}' (it has: ${model.layout.inputs.join(', ') || 'none'}).`,
            );
          if (typeof value !== 'number' || !Number.isFinite(value))
            problem(`${base}/value`, "'value' must be a finite number.");
          apply = (m, rt) => m.setInput(rt, name, value as number);
        } else problem(base, "'command', 'fault' and 'input' are names (strings).");
        if (apply && at !== undefined) events.push({ at, twin, apply });
      });
    if (problems.length) fail();
    events.sort((a, b) => a.at - b.at);

    // ---- fork each twin
    const world = this.o.world;
    const now = world.now();
    const twins: PlannedTwin[] = chosen.map(({ id, model }) => {
      const live = world.snapshot?.(id);
      const ch = changesFor(id);
      const params: Record<string, number> = {
        ...(world.parameters?.(id) ?? {}),
        ...(live?.snapshot.parameters ?? {}),
      };
      for (const c of ch) Object.assign(params, c.parameters ?? {});
      // only the parameters this behaviour has ('*' changes may name others)
      for (const k of Object.keys(params)) if (!model.layout.parameters.includes(k)) delete params[k];
      const rt = model.createRuntime(params);
      rt.faultStart.fill(NaN);
      let fork: ForkSource = 'model';
      let forkTime = now;
      let y0: Float64Array;
      const ideal = idealTelemetry(model);
      if (live) {
        fork = live.source;
        forkTime = live.snapshot.t;
        y0 = Float64Array.from(live.snapshot.state);
        if (live.snapshot.inputs) rt.inputs.set(live.snapshot.inputs);
        if (live.snapshot.faultStart) rt.faultStart.set(live.snapshot.faultStart);
        if (live.snapshot.faultHold) rt.faultHold.set(live.snapshot.faultHold);
      } else {
        y0 = model.initialState(rt);
        // States a telemetry reads directly start at the twin's latest value.
        for (const p of ideal.probes) {
          const v = p.state >= 0 ? asNumber(world.latest(id, p.name)) : undefined;
          if (v !== undefined) y0[p.state] = v;
        }
      }
      if (fork !== 'simulator')
        for (const input of model.spec.inputs)
          if (input.source.kind === 'property') {
            const v = asNumber(world.property(id, input.source.property));
            if (v !== undefined) model.setInput(rt, input.name, v);
          }
      for (const c of ch) {
        for (const [k, v] of Object.entries(c.inputs ?? {}))
          if (model.layout.inputs.includes(k)) model.setInput(rt, k, v);
        for (const [k, v] of Object.entries(c.states ?? {})) {
          const s = model.layout.states.indexOf(k);
          if (s >= 0) y0[s] = v;
        }
      }
      const relationships = model.relationshipInputs.map((input) => {
        const src = input.source as Extract<typeof input.source, { kind: 'relationship' }>;
        const inRun: number[] = [];
        const outside: number[] = [];
        for (const other of world.related(id, src.relationship, src.direction)) {
          const j = indexOf.get(other);
          if (j !== undefined) inRun.push(j);
          else {
            const v = asNumber(world.latest(other, src.source));
            if (v !== undefined) outside.push(v);
          }
        }
        return { input: input.name, source: src.source, inRun, outside };
      });
      return { twinId: id, model, ideal, fork, forkTime, rt, y0, relationships };
    });
    return {
      plan: {
        twins,
        horizon: horizon as number,
        sampleInterval,
        method: method as 'rk4' | 'dopri5',
        step: step as number,
        events,
        couplingInterval: Math.max(step as number, 10),
      },
      skipped,
    };
  }
}

function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}
