/*
 * Whether OpenTelemetry tracing is on, without loading the SDK. The SDK is started by
 * preload.ts (a `node --import` preload, or imported by `compter serve`) only when an OTLP
 * endpoint is configured; otherwise nothing of it is ever loaded and `@opentelemetry/api`
 * hands out no-op tracers, so the spans compter creates cost close to nothing.
 */

let shutdown: (() => Promise<void>) | null = null;

/** True when the environment asks for traces: an OTLP endpoint is set and the SDK is not disabled. */
export function isTracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return false;
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  return !(env.OTEL_TRACES_EXPORTER ?? '').split(',').some((e) => e.trim() === 'none');
}

/** True once the SDK was started in this process. */
export function isTracingActive(): boolean {
  return shutdown !== null;
}

/** Called by the preload once the SDK runs, with what flushes and stops it. */
export function registerTracingShutdown(fn: () => Promise<void>): void {
  shutdown = fn;
}

/** Flushes pending spans and stops the SDK; a no-op when tracing is off. Never throws. */
export async function shutdownTracing(): Promise<void> {
  const fn = shutdown;
  shutdown = null;
  try {
    await fn?.();
  } catch {
    // Losing the last spans must not fail a shutdown.
  }
}
