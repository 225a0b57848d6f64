import type { DebtDefinition } from '../domain/debts/debt-definition.js';
import type { LogEvent } from '../domain/event.js';
import type { EventIdGenerator } from '../domain/event-id.js';
import {
  coversDebt,
  coversSlo,
  isActiveAt,
  maintenanceToJson,
  nextChangeAfter,
  normalizeMaintenanceInput,
  type MaintenanceInput,
  type MaintenanceWindow,
} from '../domain/maintenance/maintenance-window.js';
import { DomainError, assertNoProblems } from '../domain/problems.js';
import type { Clock } from '../domain/time/clock.js';
import { cronTimeline } from '../domain/time/cron-schedule.js';
import type { Timeline } from '../domain/time/schedule.js';
import type { EventSink } from './debt-engine.js';
import { makeLogEvent } from './event-factory.js';
import type { Projection } from './projection.js';
import type { LogPosition } from './rebuild.js';

export interface MaintenanceWindowsDeps {
  clock: Clock;
  sink: EventSink;
  ids: EventIdGenerator;
  position: LogPosition;
}

function keyOf(project: string, id: string): string {
  return `${project}\u0000${id}`;
}

/**
 * The maintenance windows of every project, a projection of `maintenance.defined` and
 * `maintenance.deleted` events, so restarts and replay keep them. Answers whether a window
 * covers a debt or SLO at an instant; `onChange` tells the engines to re-derive a project.
 */
export class MaintenanceWindows implements Projection {
  readonly section = 'maintenance';
  private readonly windows = new Map<string, MaintenanceWindow>();
  private readonly byProject = new Map<string, Set<MaintenanceWindow>>();
  private readonly timelines = new WeakMap<MaintenanceWindow, Timeline | null>();
  /** Called after a window of `project` is defined or deleted. */
  onChange: (project: string) => Promise<void> = async () => {};
  /**
   * Called after another instance's window change was read from the log, once the events read
   * with it are applied too (the writer's own re-derived debt statuses come with it).
   */
  onRemoteChange: (project: string) => Promise<void> = async () => {};

  constructor(private readonly deps: MaintenanceWindowsDeps) {}

  applyLogEvent(event: LogEvent): void {
    if (event.type === 'maintenance.defined') this.put(event.attributes.window);
    else if (event.type === 'maintenance.deleted') this.remove(event.project, String(event.attributes.id));
  }

  applyRemoteEvent(event: LogEvent): void {
    this.applyLogEvent(event);
    if (event.type !== 'maintenance.defined' && event.type !== 'maintenance.deleted') return;
    const { project } = event;
    setImmediate(() => {
      this.onRemoteChange(project).catch(() => undefined);
    });
  }

  snapshotItems(): unknown[] {
    return [...this.windows.values()];
  }

  restoreItems(items: unknown[]): void {
    for (const window of items as MaintenanceWindow[]) this.put(window);
  }

  async begin(): Promise<void> {}

  private put(window: MaintenanceWindow): void {
    this.remove(window.project, window.id);
    this.windows.set(keyOf(window.project, window.id), window);
    let set = this.byProject.get(window.project);
    if (!set) this.byProject.set(window.project, (set = new Set()));
    set.add(window);
  }

  private remove(project: string, id: string): void {
    const key = keyOf(project, id);
    const existing = this.windows.get(key);
    if (!existing) return;
    this.windows.delete(key);
    this.byProject.get(project)?.delete(existing);
  }

  private timelineOf(window: MaintenanceWindow): Timeline | null {
    let timeline = this.timelines.get(window);
    if (timeline === undefined) {
      timeline = window.span.kind === 'recurring' ? cronTimeline(window.span.cron, window.span.tz) : null;
      this.timelines.set(window, timeline);
    }
    return timeline;
  }

  private json(window: MaintenanceWindow): Record<string, unknown> {
    return maintenanceToJson(window, isActiveAt(window, this.deps.clock.now(), this.timelineOf(window)));
  }

  /** Creates or replaces a window; `created` tells which. */
  async define(project: string, id: string, input: MaintenanceInput): Promise<{ window: Record<string, unknown>; created: boolean }> {
    const { window, problems } = normalizeMaintenanceInput(input, { id, project });
    assertNoProblems(problems, 'invalid maintenance window');
    if (!window) throw new DomainError('invalid', 'invalid maintenance window');
    const created = !this.windows.has(keyOf(project, id));
    const now = this.deps.clock.now();
    const event = makeLogEvent(
      this.deps.ids,
      this.deps.position,
      { project, type: 'maintenance.defined', ts: now, attributes: { window } },
      now,
    );
    await this.deps.sink.write([event]);
    this.applyLogEvent(event);
    await this.onChange(project);
    return { window: this.json(window), created };
  }

  /** Defines a window only when it is new or differs (config applied at every start and reload). */
  async defineIfChanged(project: string, id: string, input: MaintenanceInput): Promise<boolean> {
    const existing = this.windows.get(keyOf(project, id));
    const { window } = normalizeMaintenanceInput(input, { id, project });
    if (existing && window && JSON.stringify(window) === JSON.stringify(existing)) return false;
    await this.define(project, id, input);
    return true;
  }

  /** The window, or not_found. */
  get(project: string, id: string): Record<string, unknown> {
    const window = this.windows.get(keyOf(project, id));
    if (!window) throw new DomainError('not_found', `no maintenance window "${id}"`);
    return this.json(window);
  }

  /** Every window of a project, ordered by id. */
  list(project: string): Record<string, unknown>[] {
    return [...(this.byProject.get(project) ?? [])].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((w) => this.json(w));
  }

  /** Deletes a window (its history stays in the log); what it covered follows normal rules at once. */
  async delete(project: string, id: string): Promise<void> {
    if (!this.windows.has(keyOf(project, id))) throw new DomainError('not_found', `no maintenance window "${id}"`);
    const now = this.deps.clock.now();
    const event = makeLogEvent(
      this.deps.ids,
      this.deps.position,
      { project, type: 'maintenance.deleted', ts: now, attributes: { id } },
      now,
    );
    await this.deps.sink.write([event]);
    this.applyLogEvent(event);
    await this.onChange(project);
  }

  /** True when a window of the debt's project covers it at `t`. */
  isDebtInMaintenance(def: DebtDefinition, t: number): boolean {
    for (const window of this.byProject.get(def.project) ?? []) {
      if (coversDebt(window, def.id, def.labels) && isActiveAt(window, t, this.timelineOf(window))) return true;
    }
    return false;
  }

  /** The next instant after `t` at which a window covering the debt starts or ends, or null. */
  debtChangeAfter(def: DebtDefinition, t: number): number | null {
    let next: number | null = null;
    for (const window of this.byProject.get(def.project) ?? []) {
      if (!coversDebt(window, def.id, def.labels)) continue;
      const change = nextChangeAfter(window, t, this.timelineOf(window));
      if (change !== null && (next === null || change < next)) next = change;
    }
    return next;
  }

  /** True when a window of the project covers the SLO at `t`. */
  isSloInMaintenance(project: string, sloId: string, t: number): boolean {
    for (const window of this.byProject.get(project) ?? []) {
      if (coversSlo(window, sloId) && isActiveAt(window, t, this.timelineOf(window))) return true;
    }
    return false;
  }
}
