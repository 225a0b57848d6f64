import type { Clock } from '../domain/time/clock.js';
import { normalizeDebtInput } from '../domain/debts/debt-definition.js';
import { checkInPayment, checkInRunIdOf, monitorDefinition, type SentryCheckIn } from '../domain/debts/sentry-check-in.js';
import { DomainError, type Problem } from '../domain/problems.js';
import type { DebtEngine } from './debt-engine.js';
import type { DebtJson } from './debt-view.js';

/** A check-in and where it came from (its item's index, for problem paths). */
export interface LocatedCheckIn {
  checkIn: SentryCheckIn;
  index: number;
}

/**
 * Runs tasks with the same key one after another, in call order. withMonitor sends a fast job's
 * `in_progress` and `ok` a few milliseconds apart on separate requests: while the first waits
 * for its monitor_config to be durable, the second must not overtake it and end a run that
 * has not started yet. A key's entry is dropped when its last task ends, so the map stays small.
 */
class KeyedSequencer {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/**
 * Records Sentry check-ins (docs/semantics.md, "Sentry Crons"): a monitor_config upserts the
 * debt, then the check-in pays it. All check-ins of a batch are checked before the first is
 * recorded, so a refused batch records nothing; once `record` resolves, all are durable.
 */
export class SentryCheckIns {
  private readonly inOrder = new KeyedSequencer();

  constructor(
    private readonly engine: DebtEngine,
    private readonly clock: Clock,
  ) {}

  /** Records the check-ins in order; `created` when a monitor_config created a debt. Throws not_found / invalid before writing. */
  async record(project: string, checkIns: readonly LocatedCheckIn[]): Promise<{ created: boolean }> {
    // Keyed by the monitors it names (one, as the SDKs send them): the check runs in the queue
    // too, so an `ok` never finds its monitor missing because the `in_progress` that creates it
    // is still being made durable.
    const slugs = [...new Set(checkIns.map((c) => c.checkIn.monitor_slug))].sort();
    if (slugs.length === 0) return { created: false };
    return this.inOrder.run(`${project}\u0000${slugs.join('\u0000')}`, async () => {
      this.check(project, checkIns);
      let created = false;
      for (const { checkIn } of checkIns) {
        const slug = checkIn.monitor_slug;
        if (checkIn.monitor_config) {
          const existing = this.existing(project, slug);
          await this.engine.defineIfChanged(project, slug, monitorDefinition(checkIn.monitor_config, existing));
          if (!existing) created = true;
        }
        const runId = checkInRunIdOf(checkIn.check_in_id);
        const payment = checkInPayment(checkIn, 'runId' in runId ? runId.runId : null, this.clock.now(), () =>
          this.engine.latestOpenRunId(project, slug),
        );
        await this.engine.payQuietly(project, slug, payment);
      }
      return { created };
    });
  }

  /** Every monitor_config is a valid definition and every slug names a debt, or will once configured. */
  private check(project: string, checkIns: readonly LocatedCheckIn[]): void {
    const configured = new Set<string>();
    const invalid: Problem[] = [];
    for (const { checkIn, index } of checkIns) {
      const slug = checkIn.monitor_slug;
      if (checkIn.monitor_config) {
        const input = monitorDefinition(checkIn.monitor_config, this.existing(project, slug));
        const { problems } = normalizeDebtInput(input, { id: slug, project, pingId: 'check' });
        for (const p of problems) invalid.push({ path: `items[${index}].monitor_config (${p.path})`, message: p.message });
        configured.add(slug);
      } else if (!configured.has(slug) && this.existing(project, slug) === undefined) {
        throw new DomainError('not_found', `no debt "${slug}"; send a monitor_config with the check-in to create it`, [
          { path: `items[${index}].monitor_slug`, message: 'no such debt and no monitor_config' },
        ]);
      }
    }
    if (invalid.length)
      throw new DomainError('invalid', `invalid monitor_config: ${invalid.map((p) => `${p.path}: ${p.message}`).join('; ')}`, invalid);
  }

  private existing(project: string, id: string): DebtJson | undefined {
    try {
      return this.engine.get(project, id);
    } catch (err) {
      if (err instanceof DomainError && err.code === 'not_found') return undefined;
      throw err;
    }
  }
}
