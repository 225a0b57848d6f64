import type { Clock } from '../domain/time/clock.js';
import type { LogEvent } from '../domain/event.js';
import type { EventIdGenerator } from '../domain/event-id.js';
import { generatePingKey } from '../domain/debts/ping-key.js';
import { sentryPublicKeyOf } from '../domain/debts/sentry-dsn.js';
import type { EventSink } from './debt-engine.js';
import type { Projection } from './projection.js';
import type { LogPosition } from './rebuild.js';
import { makeLogEvent } from './event-factory.js';

export interface PingKeysDeps {
  clock: Clock;
  sink: EventSink;
  ids: EventIdGenerator;
  position: LogPosition;
}

/** A project's ping key and where it comes from. */
export interface PingKeyInfo {
  project: string;
  pingKey: string;
  source: 'config' | 'generated';
}

/**
 * Each project's ping key. A key declared in compter.yaml (`pingKeys:`) wins; otherwise the
 * key generated the first time someone asked for it, kept as a `ping_key.generated` event so
 * it survives restarts. Only a project's current key resolves: declaring a key retires the
 * generated one.
 */
export class PingKeys implements Projection {
  readonly section = 'pingKeys';
  private readonly generated = new Map<string, string>();
  private declared = new Map<string, string>();
  private readonly byKey = new Map<string, string>();
  /** Projects by the public key their Sentry DSN carries (the ping key, or one derived from it). */
  private readonly bySentryKey = new Map<string, string>();
  /** Keys being made durable, so concurrent first reads agree on one key. */
  private readonly pending = new Map<string, Promise<PingKeyInfo>>();

  constructor(private readonly deps: PingKeysDeps) {}

  /** The project a ping key belongs to, or undefined. */
  resolve(pingKey: string): string | undefined {
    return this.byKey.get(pingKey);
  }

  /** The project whose Sentry DSN carries `publicKey` (see sentryPublicKeyOf), or undefined. */
  resolveSentryKey(publicKey: string): string | undefined {
    return this.bySentryKey.get(publicKey);
  }

  /** Replaces the keys declared in config (start and reload). */
  setDeclared(keys: Record<string, string> | undefined): void {
    this.declared = new Map(Object.entries(keys ?? {}));
    this.reindex();
  }

  /** The project's key, generating and logging one when it has none. */
  async keyFor(project: string): Promise<PingKeyInfo> {
    const declared = this.declared.get(project);
    if (declared !== undefined) return { project, pingKey: declared, source: 'config' };
    const existing = this.generated.get(project);
    if (existing !== undefined) return { project, pingKey: existing, source: 'generated' };
    let pending = this.pending.get(project);
    if (!pending) {
      pending = this.generate(project).finally(() => this.pending.delete(project));
      this.pending.set(project, pending);
    }
    return pending;
  }

  private async generate(project: string): Promise<PingKeyInfo> {
    const now = this.deps.clock.now();
    const pingKey = generatePingKey();
    const event = makeLogEvent(
      this.deps.ids,
      this.deps.position,
      { project, type: 'ping_key.generated', ts: now, attributes: { pingKey } },
      now,
    );
    // Usable only once durable: a key handed out and then lost would silently break jobs.
    await this.deps.sink.write([event]);
    this.applyLogEvent(event);
    return { project, pingKey, source: 'generated' };
  }

  applyLogEvent(event: LogEvent): void {
    if (event.type !== 'ping_key.generated') return;
    const pingKey = event.attributes.pingKey;
    if (typeof pingKey !== 'string') return;
    this.generated.set(event.project, pingKey);
    this.reindex();
  }

  snapshotItems(): unknown[] {
    return [...this.generated].map(([project, pingKey]) => ({ project, pingKey }));
  }

  restoreItems(items: unknown[]): void {
    for (const item of items as { project: string; pingKey: string }[]) this.generated.set(item.project, item.pingKey);
    this.reindex();
  }

  async begin(): Promise<void> {}

  private reindex(): void {
    this.byKey.clear();
    for (const [project, key] of this.generated) if (!this.declared.has(project)) this.byKey.set(key, project);
    for (const [project, key] of this.declared) this.byKey.set(key, project);
    this.bySentryKey.clear();
    for (const [key, project] of this.byKey) this.bySentryKey.set(sentryPublicKeyOf(key), project);
  }
}
