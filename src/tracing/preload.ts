/*
 * Starts OpenTelemetry tracing when OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is
 * set, and does nothing otherwise. Use it as a preload, so the SDK runs before anything else:
 *
 *     node --import ./dist/src/tracing/preload.js dist/src/cli/main.js serve
 *
 * (`npm start` does; `compter serve` imports it itself when the variable is set). Spans go to
 * the OTLP/HTTP endpoint in the format OTEL_EXPORTER_OTLP_PROTOCOL names (default
 * http/protobuf), configured by the standard OTEL_* variables. Traces only: compter's metrics
 * are its Prometheus /metrics.
 */
import { isTracingActive, isTracingRequested, registerTracingShutdown } from './tracing.js';

if (isTracingRequested() && !isTracingActive()) {
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const sdk = new NodeSDK({
    // OTEL_SERVICE_NAME, when set, names the service instead (read by the SDK's env detector).
    ...(process.env.OTEL_SERVICE_NAME ? {} : { serviceName: 'compter' }),
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  registerTracingShutdown(() => sdk.shutdown());
}
