import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../domain/time/clock.js';
import { applyDebtEvent, redefineDebt } from '../domain/debts/debt-apply.js';
import {
  advanceDebt,
  deriveStatus,
  lifecycleDraft,
  nextWakeAt,
  payDebt,
  updateStatus,
  type DebtEventDraft,
} from '../domain/debts/debt-decide.js';
import {
  compactDefinition,
  normalizeDebtInput,
  type DebtDefinition,
  type DebtInput,
  type ScheduleInput,
} from '../domain/debts/debt-definition.js';
import { compactState, newDebtState, type DebtContext, type DebtState, type DebtSurroundings } from '../domain/debts/debt-state.js';
import { BLOCKING_STATUSES, type ClosedOutcome, type DebtMetricsView } from '../domain/debts/debt-types.js';
import type { LogEvent } from '../domain/event.js';
import type { EventIdGenerator } from '../domain/event-id.js';
import type { Payment } from '../domain/debts/payment.js';
import { debtKey } from '../domain/debts/debt-key.js';
import { DomainError, assertNoProblems } from '../domain/problems.js';
import type { EventStore } from '../store/event-store.js';
import { BackgroundWrites } from './background-writes.js';
import { debtJson, debtMetricsView, type DebtBrief, type DebtJson, type OccurrenceJson } from './debt-view.js';
import { ledgerOf } from './debt-ledger.js';
import type { TimelineCache } from './timelines.js';
import { DeadlineTimer } from './deadline-timer.js';
import { makeEntityEvent, makeLogEvent } from './event-factory.js';
import { cycleProblem } from '../domain/dependency-cycles.js';
import { derivedEventId } from '../domain/event-id.js';
import type { Projection } from './projection.js';
import type { LogPosition } from './rebuild.js';

/** Where the engine sends events; resolves once they are durable (group commit). */
export interface EventSink {
  write(events: LogEvent[]): Promise<void>;
}

/** Where the engine reports per-debt metric changes. */
export interface DebtMetricsSink {
  /** `view` is fresh for each call and kept by the sink; `key` is the debt's key (debt-key.ts). */
  update(view: DebtMetricsView, key?: string): void;
  remove(project: string, debt: string): void;
}

export interface DebtEngineDeps {
  clock: Clock;
  sink: EventSink;
  store: EventStore;
  timelines: TimelineCache;
  metrics?: DebtMetricsSink;
  /** Maintenance windows; without them no debt is ever in maintenance. */
  maintenance?: MaintenanceLookup;
  logger: Logger;
  /** One generator for every projection, so ids stay strictly increasing across them. */
  ids: EventIdGenerator;
  position: LogPosition;
}

/** Whether a maintenance window covers a debt at an instant, and when that next changes. */
export interface MaintenanceLookup {
  isDebtInMaintenance(def: DebtDefinition, t: number): boolean;
  debtChangeAfter(def: DebtDefinition, t: number): number | null;
}

/** How to vivify an unknown debt from a payment (docs/semantics.md): its schedule and optional grace. */
export interface Vivify {
  schedule: ScheduleInput;
  grace?: string | number;
}

/** Longest chain of dependencies a status change is passed down. */
const MAX_CHAIN_DEPTH = 64;

/**
 * The debt front door of the engine: holds the projection of the log (one state per debt),
 * turns commands into events, applies them, hands them to the sink, keeps the deadline timer.
 * Each command decides and applies synchronously, so concurrent requests never interleave
 * inside one debt; only the durable write is awaited.
 */
export class DebtEngine implements Projection {
  readonly section = 'debts';
  private readonly debts = new Map<string, DebtState>();
  private readonly byPingId = new Map<string, string>();
  /** Each project's debts: an outage or a window applies to one project at a time. */
  private readonly byProject = new Map<string, Set<DebtState>>();
  /** Upstream key → keys of the debts that run after it, so a status change reaches them. */
  private readonly dependents = new Map<string, Set<string>>();
  private readonly wakes: DeadlineTimer;
  /** What the debt logic reads from outside: timelines and maintenance windows. */
  private readonly ctx: DebtContext;
  private readonly background: BackgroundWrites;

  constructor(private readonly deps: DebtEngineDeps) {
    this.wakes = new DeadlineTimer(deps.clock, () => void this.tick());
    this.background = new BackgroundWrites(deps.sink, deps.logger, 'could not write time-driven events');
    const { timelines, maintenance } = deps;
    this.ctx = maintenance
      ? {
          timelineFor: (def) => timelines.timelineFor(def),
          isInMaintenance: (def, t) => maintenance.isDebtInMaintenance(def, t),
          maintenanceChangeAfter: (def, t) => maintenance.debtChangeAfter(def, t),
        }
      : timelines;
  }

  /** Number of debts held. */
  get size(): number {
    return this.debts.size;
  }

  /**
   * After replay: records compter's own outage since `lastRunAt`, catches every debt up to now
   * (logging what happened while down), starts the timer.
   */
  begin(lastRunAt: number | null = null): Promise<void> {
    this.wakes.start();
    const now = this.deps.clock.now();
    const events: LogEvent[] = this.noteStarted(lastRunAt, now);
    for (const state of this.debts.values()) events.push(...this.settle(state, now, []));
    // Written in the background: the events are derived again from the log if they are lost.
    if (events.length) void this.background.write(events);
    return Promise.resolve();
  }

  /**
   * One `compter.started` event per project with debts, carrying the outage it ends: deadlines
   * in (lastRunAt, now] were not watched (docs/semantics.md, "compter's own outage").
   */
  private noteStarted(lastRunAt: number | null, now: number): LogEvent[] {
    if (lastRunAt === null || lastRunAt >= now) return [];
    const events: LogEvent[] = [];
    for (const project of [...this.byProject.keys()].sort()) {
      const event = makeLogEvent(
        this.deps.ids,
        this.deps.position,
        { project, type: 'compter.started', ts: now, attributes: { unwatchedFrom: lastRunAt } },
        now,
      );
      this.applyLogEvent(event);
      events.push(event);
    }
    return events;
  }

  /** Stops the timer. Pending writes are drained by whoever owns the sink. */
  stop(): void {
    this.wakes.stop();
  }

  /** Folds one logged event into the projection (start-up replay and other instances' events). */
  applyLogEvent(event: LogEvent): void {
    if (event.type === 'compter.started') {
      for (const state of this.byProject.get(event.project) ?? []) applyDebtEvent(state, event, this.ctx);
      return;
    }
    if (!event.debt) return;
    const key = debtKey(event.project, event.debt);
    if (event.type === 'debt.defined') {
      const def = compactDefinition(event.attributes.definition);
      const existing = this.debts.get(key);
      if (existing) {
        this.unindexUpstreams(existing.def);
        redefineDebt(existing, def, event.ts);
      } else this.add(key, newDebtState(def, event.ts));
      this.indexUpstreams(def);
      this.byPingId.set(def.pingId, key);
      return;
    }
    const state = this.debts.get(key);
    if (!state) return;
    if (event.type === 'debt.deleted') {
      this.unindexUpstreams(state.def);
      this.debts.delete(key);
      this.byProject.get(state.def.project)?.delete(state);
      this.byPingId.delete(state.def.pingId);
      return;
    }
    applyDebtEvent(state, event, this.ctx);
  }

  private add(key: string, state: DebtState): void {
    this.debts.set(key, state);
    let set = this.byProject.get(state.def.project);
    if (!set) this.byProject.set(state.def.project, (set = new Set()));
    set.add(state);
  }

  private indexUpstreams(def: DebtDefinition): void {
    const key = debtKey(def.project, def.id);
    for (const upstream of def.after) {
      const upKey = debtKey(def.project, upstream);
      let set = this.dependents.get(upKey);
      if (!set) this.dependents.set(upKey, (set = new Set()));
      set.add(key);
    }
  }

  private unindexUpstreams(def: DebtDefinition): void {
    const key = debtKey(def.project, def.id);
    for (const upstream of def.after) {
      const upKey = debtKey(def.project, upstream);
      const set = this.dependents.get(upKey);
      set?.delete(key);
      if (set?.size === 0) this.dependents.delete(upKey);
    }
  }

  /** The upstreams of `state` that block it now: overdue, failed, timed out, or blocked themselves. */
  private blockedBy(state: DebtState): string[] {
    const { project, after } = state.def;
    return after.filter((id) => {
      const upstream = this.debts.get(debtKey(project, id));
      return upstream !== undefined && BLOCKING_STATUSES.has(upstream.status);
    });
  }

  private surroundings(state: DebtState, now: number): DebtSurroundings {
    return { blockedBy: this.blockedBy(state), isInMaintenance: this.ctx.isInMaintenance?.(state.def, now) ?? false };
  }

  /**
   * Re-derives every debt of a project now (a maintenance window was defined or deleted), so
   * what it covers follows the new rules at once. Resolves when the events are durable.
   */
  async resettleProject(project: string): Promise<void> {
    const now = this.deps.clock.now();
    const events: LogEvent[] = [];
    for (const state of this.byProject.get(project) ?? []) events.push(...this.settle(state, now, []));
    await this.commit(events);
  }

  /** A problem naming the cycle when `def`'s upstreams lead back to it, else undefined. */
  private cycleProblem(def: DebtDefinition): { path: string; message: string } | undefined {
    return cycleProblem(def.id, (id) => (id === def.id ? def.after : (this.debts.get(debtKey(def.project, id))?.def.after ?? [])));
  }

  /**
   * Folds in an event another instance wrote (the log tail), while running: the debt's
   * gauges and wake-up follow at once. Its derived facts come from the writer's own log
   * events, or from this instance's timer under the same ids.
   */
  applyRemoteEvent(event: LogEvent): void {
    this.applyLogEvent(event);
    if (!event.debt || !this.wakes.isRunning) return;
    const key = debtKey(event.project, event.debt);
    const state = this.debts.get(key);
    if (state) {
      this.afterChange(state, this.deps.clock.now());
    } else if (event.type === 'debt.deleted') {
      this.wakes.remove(key);
      this.deps.metrics?.remove(event.project, event.debt);
    }
  }

  /** Creates or replaces a debt. A missing id is generated; `created` tells which happened. */
  async define(project: string, id: string | undefined, input: DebtInput): Promise<{ debt: DebtJson; created: boolean }> {
    const debtId = id ?? input.id ?? randomUUID();
    const key = debtKey(project, debtId);
    const existing = this.debts.get(key);
    const { definition, problems } = normalizeDebtInput(input, { id: debtId, project, pingId: existing?.def.pingId ?? randomUUID() });
    if (definition) problems.push(...this.deps.timelines.calendarProblems(definition));
    const cycle = definition ? this.cycleProblem(definition) : undefined;
    if (cycle) problems.push(cycle);
    assertNoProblems(problems, 'invalid debt definition');
    const now = this.deps.clock.now();
    const events = this.defineEvents(definition!, now);
    // Taken before the commit: a DELETE of the same id may run while it is awaited.
    const state = this.debts.get(key)!;
    await this.commit(events);
    return { debt: this.json(state), created: !existing };
  }

  /** Defines a debt only when it is new or its definition differs (config applied at every start). */
  async defineIfChanged(project: string, id: string, input: DebtInput): Promise<boolean> {
    const existing = this.debts.get(debtKey(project, id));
    if (existing) {
      const { definition } = normalizeDebtInput(input, { id, project, pingId: existing.def.pingId });
      if (definition && JSON.stringify(definition) === JSON.stringify(existing.def)) return false;
    }
    await this.define(project, id, input);
    return true;
  }

  private defineEvents(def: DebtDefinition, now: number): LogEvent[] {
    const key = debtKey(def.project, def.id);
    const defined = this.toLogEvent(def, lifecycleDraft('debt.defined', now, { definition: def }), now);
    this.applyLogEvent(defined);
    const state = this.debts.get(key)!;
    return [defined, ...this.settle(state, now, [])];
  }

  /** The debt, or a not_found error. */
  get(project: string, id: string): DebtJson {
    return this.json(this.require(project, id));
  }

  /** The outcome of the debt's most recently closed occurrence, or null before the first closes. */
  lastOutcome(project: string, id: string): ClosedOutcome | null {
    return this.require(project, id).recent.at(-1)?.outcome ?? null;
  }

  /** The debt a ping id names, as (project, id), or undefined. */
  resolvePingId(pingId: string): { project: string; id: string } | undefined {
    const key = this.byPingId.get(pingId);
    const state = key ? this.debts.get(key) : undefined;
    return state ? { project: state.def.project, id: state.def.id } : undefined;
  }

  /** All debts of a project, ordered by id. */
  list(project: string): DebtJson[] {
    const out: DebtJson[] = [];
    for (const state of this.debts.values()) if (state.def.project === project) out.push(this.json(state));
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Every debt of a project as id, name, labels and status now, unordered: cheaper than `list` at 10k debts. */
  briefs(project: string): DebtBrief[] {
    const now = this.deps.clock.now();
    const out: DebtBrief[] = [];
    for (const state of this.debts.values()) {
      const { def } = state;
      if (def.project === project)
        out.push({
          id: def.id,
          name: def.name,
          status: deriveStatus(state, now, this.ctx, this.surroundings(state, now)),
          labels: def.labels,
        });
    }
    return out;
  }

  /** Deletes a debt; its history stays in the log. */
  async delete(project: string, id: string): Promise<void> {
    const state = this.require(project, id);
    const now = this.deps.clock.now();
    const event = this.toLogEvent(state.def, lifecycleDraft('debt.deleted', now), now);
    const dependents = [...(this.dependents.get(debtKey(project, id)) ?? [])];
    this.applyLogEvent(event);
    this.wakes.remove(debtKey(project, id));
    this.deps.metrics?.remove(project, id);
    // Its dependents no longer wait for it.
    const events = [event];
    for (const key of dependents) {
      const dependent = this.debts.get(key);
      if (dependent) events.push(...this.settle(dependent, now, []));
    }
    await this.commit(events);
  }

  /** Pauses or resumes a debt: a paused debt never falls due and does not alert. */
  async setPaused(project: string, id: string, isPaused: boolean): Promise<DebtJson> {
    const state = this.require(project, id);
    const now = this.deps.clock.now();
    if (state.def.paused === isPaused) return this.json(state);
    const pre = this.settle(state, now, []);
    const drafts = [lifecycleDraft(isPaused ? 'debt.paused' : 'debt.resumed', now)];
    applyDebtEvent(state, drafts[0]!, this.ctx);
    const events = [...pre, ...this.settle(state, now, drafts)];
    await this.commit(events);
    return this.json(state);
  }

  /**
   * Records a payment. An unknown debt is created when `vivify` carries a schedule (created =
   * true); otherwise not_found, with a message that says how to vivify.
   */
  async pay(project: string, id: string, payment: Payment, vivify?: Vivify): Promise<{ debt: DebtJson; created: boolean }> {
    const { state, created } = await this.record(project, id, payment, vivify);
    return { debt: this.json(state), created };
  }

  /** Records a payment like `pay` without rendering the debt (the ping hot path answers "OK"). */
  async payQuietly(project: string, id: string, payment: Payment, vivify?: Vivify): Promise<{ created: boolean }> {
    const { created } = await this.record(project, id, payment, vivify);
    return { created };
  }

  /** The id of the debt's most recently started open run ('' for an anonymous one), or undefined when none is open. */
  latestOpenRunId(project: string, id: string): string | undefined {
    const runs = this.debts.get(debtKey(project, id))?.runs;
    if (!runs || runs.length === 0) return undefined;
    let latest = runs[0]!;
    for (const run of runs) if (run.startedAt >= latest.startedAt) latest = run;
    return latest.key;
  }

  private async record(project: string, id: string, payment: Payment, vivify?: Vivify): Promise<{ state: DebtState; created: boolean }> {
    const key = debtKey(project, id);
    const now = this.deps.clock.now();
    let state = this.debts.get(key);
    const events: LogEvent[] = [];
    let created = false;
    if (!state) {
      if (!vivify) {
        throw new DomainError(
          'not_found',
          `no debt "${id}"; to create it from this payment, send a schedule (e.g. ?every=1h, ?cron=0+2+*+*+*&tz=UTC, or a JSON "schedule")`,
        );
      }
      const input: DebtInput = { schedule: vivify.schedule };
      if (vivify.grace !== undefined) input.grace = vivify.grace;
      const { definition, problems } = normalizeDebtInput(input, { id, project, pingId: randomUUID() });
      if (definition) problems.push(...this.deps.timelines.calendarProblems(definition));
      assertNoProblems(problems, 'cannot create the debt from this payment');
      // Vivified debts begin a moment before the payment that created them, so it can pay.
      events.push(...this.defineEvents(definition!, Math.min(now, payment.at) - 1));
      state = this.debts.get(key)!;
      created = true;
    }
    // Time first (slots that fell due, runs that timed out), then the payment, in one list.
    const drafts = advanceDebt(state, now, this.ctx);
    try {
      for (const d of payDebt(state, payment, this.ctx)) drafts.push(d);
    } catch (err) {
      if (drafts.length) void this.background.write(this.finish(state, now, drafts));
      throw err;
    }
    const finished = this.finish(state, now, drafts);
    await this.commit(events.length ? [...events, ...finished] : finished);
    return { state, created };
  }

  /** Closed, current and upcoming occurrences with a scheduled time in [from, to]. */
  async occurrences(project: string, id: string, from: number, to: number): Promise<OccurrenceJson[]> {
    const state = this.require(project, id);
    await this.background.settled();
    return ledgerOf(state, { store: this.deps.store, ctx: this.ctx, now: this.deps.clock.now() }, from, to);
  }

  /** The debt's most recent events, newest first. */
  async events(project: string, id: string, limit: number): Promise<LogEvent[]> {
    this.require(project, id);
    await this.background.settled();
    return this.deps.store.query({ project, debt: id, limit, order: 'desc' });
  }

  /** Every debt's state, for a snapshot. */
  snapshotItems(): unknown[] {
    return [...this.debts.values()];
  }

  /** Restores debts a snapshot held. */
  restoreItems(items: unknown[]): void {
    for (const state of items as DebtState[]) {
      compactState(state);
      state.def = compactDefinition(state.def);
      const key = debtKey(state.def.project, state.def.id);
      this.add(key, state);
      this.indexUpstreams(state.def);
      this.byPingId.set(state.def.pingId, key);
    }
  }

  private require(project: string, id: string): DebtState {
    const state = this.debts.get(debtKey(project, id));
    if (!state) throw new DomainError('not_found', `no debt "${id}"`);
    return state;
  }

  private json(state: DebtState): DebtJson {
    const now = this.deps.clock.now();
    return debtJson(state, now, this.ctx, this.surroundings(state, now));
  }

  /**
   * Advances a debt to `now`, adds `drafts`' effects (already applied), updates status; logs all.
   * `dueAt` is the wake-up instant when the timer is the cause (see timeDrivenId).
   */
  private settle(state: DebtState, now: number, drafts: DebtEventDraft[], dueAt?: number): LogEvent[] {
    return this.finish(state, now, [...advanceDebt(state, now, this.ctx), ...drafts], dueAt);
  }

  /**
   * Updates the status after `drafts` (already applied; a list the caller made for this call,
   * which the status change is added to) and logs them all. A status change
   * passes down to the debts that run after this one, which may become (or stop being) blocked;
   * cycles are refused at definition, and `depth` bounds the walk all the same.
   */
  private finish(state: DebtState, now: number, drafts: DebtEventDraft[], dueAt?: number, depth = 0): LogEvent[] {
    const before = state.status;
    // `drafts` is the caller's own fresh list: the status change joins it.
    for (const d of updateStatus(state, now, this.ctx, this.surroundings(state, now))) drafts.push(d);
    this.afterChange(state, now);
    const events = drafts.map((d) => this.toLogEvent(state.def, d, now, dueAt));
    if (state.status !== before && depth < MAX_CHAIN_DEPTH) {
      for (const key of this.dependents.get(debtKey(state.def.project, state.def.id)) ?? []) {
        const dependent = this.debts.get(key);
        if (dependent) events.push(...this.finish(dependent, now, advanceDebt(dependent, now, this.ctx), dueAt, depth + 1));
      }
    }
    return events;
  }

  private afterChange(state: DebtState, now: number): void {
    const key = debtKey(state.def.project, state.def.id);
    this.deps.metrics?.update(debtMetricsView(state, now, this.ctx), key);
    if (this.wakes.isRunning) this.wakes.schedule(key, nextWakeAt(state, now, this.ctx));
  }

  private toLogEvent(def: DebtDefinition, d: DebtEventDraft, now: number, dueAt?: number): LogEvent {
    const id = timeDrivenId(def, d, dueAt);
    return makeEntityEvent(this.deps.ids, this.deps.position, d, def.project, def.id, now, id);
  }

  private async commit(events: LogEvent[]): Promise<void> {
    if (events.length) await this.deps.sink.write(events);
  }

  /**
   * Handles every debt whose wake-up is due: re-checks it against its current state and acts.
   * Resolves when the events it produced are written (the timer does not wait for that).
   */
  tick(): Promise<void> {
    const now = this.deps.clock.now();
    const events: LogEvent[] = [];
    for (const { key, at } of this.wakes.popDueAt(now)) {
      const state = this.debts.get(key);
      if (state) events.push(...this.settle(state, now, [], at));
    }
    return events.length ? this.background.write(events) : Promise.resolve();
  }
}

/**
 * Facts the timer derives (a run timed out, an occurrence missed, the status that follows)
 * get the same id on every instance: each instance's timer derives them, and the log must
 * hold each once. A status change is keyed to the wake-up instant that caused it (`dueAt`),
 * which every instance with the same state computes alike; one a request caused is made only
 * by the instance that took the request and keeps a fresh id.
 */
function timeDrivenId(def: DebtDefinition, d: DebtEventDraft, dueAt?: number): string | undefined {
  if (d.type === 'debt.status_changed' && dueAt !== undefined) {
    const from = (d.attributes as { from: string }).from;
    return derivedEventId(dueAt, [def.project, def.id, d.type, from, d.status]);
  }
  if (d.type === 'run.timed_out') {
    const at = (d.attributes as { timedOutAt: number }).timedOutAt;
    return derivedEventId(at, [def.project, def.id, d.type, d.runId]);
  }
  if (d.type === 'occurrence.closed' && (d.status === 'missed' || d.status === 'timed_out')) {
    const { scheduledAt, deadline } = d.attributes as { scheduledAt: number; deadline: number };
    return derivedEventId(deadline, [def.project, def.id, d.type, String(scheduledAt), d.status]);
  }
  return undefined;
}
