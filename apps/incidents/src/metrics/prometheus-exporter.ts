import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

let exporter: PrometheusExporter | undefined;

/**
 * The process's OpenTelemetry metrics SDK, read by a Prometheus exporter that serves no port of
 * its own: the app's `GET /metrics` hands it the request. Registered once per process, before
 * the Nest application is created, because the library takes its meter when the application
 * starts (a meter taken from the API's no-op provider stays a no-op).
 *
 * Why OpenTelemetry's exporter rather than prom-client: the library reports through
 * `@opentelemetry/api`, as libraries should; this exporter reads those instruments as they are,
 * with no bridge, and the app's own HTTP and pool instruments sit beside them. Moving to OTLP
 * later is a change of reader, not of instruments.
 */
export function prometheusExporter(): PrometheusExporter {
  if (!exporter) {
    exporter = new PrometheusExporter({ preventServerStart: true });
    // false when an SDK is registered already (the application's own): its instruments are then the ones read.
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [exporter] }));
  }
  return exporter;
}
