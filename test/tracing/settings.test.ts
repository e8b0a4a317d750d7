import { ConfigError } from '../../src/config';
import { tracingSettings } from '../../src/tracing/settings';

/** What an operator's OTEL_* variables make of a process: tracing off unless an endpoint is set, a clear refusal of what would export nowhere. */
describe('tracing settings', () => {
  it('trace nothing when no OTLP endpoint is configured, nor when the SDK or the exporter is turned off', () => {
    expect(tracingSettings({})).toBeUndefined();
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ', OTEL_SERVICE_NAME: 'shop' })).toBeUndefined();
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'TRUE' })).toBeUndefined();
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' })).toBeUndefined();
  });

  it('trace to the traces endpoint when one is set, else to the general one', () => {
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'false' })).toEqual({ endpoint: 'http://collector:4318' });
    expect(tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/v1/traces' })).toEqual({
      endpoint: 'https://traces.example/v1/traces',
    });
  });

  it('refuse, one line per variable, what would send spans nowhere anyone receives them', () => {
    expect(problems({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_TRACES_EXPORTER: 'zipkin' })).toEqual([
      'OTEL_TRACES_EXPORTER: must be otlp (the default) or none: this service exports traces over OTLP only',
      'OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:// or https:// URL (OTLP over HTTP, e.g. http://collector:4318)',
      'OTEL_EXPORTER_OTLP_PROTOCOL: must be http/json or http/protobuf: this service exports OTLP over HTTP (port 4318), not gRPC',
    ]);
  });
});

function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    tracingSettings(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}
