import { z } from 'zod';
import { ConfigError } from '../config';

/**
 * Whether a process exports traces, from the standard OpenTelemetry variables rather than ones of
 * our own, so a collector, an operator's habits and the SDK's documentation all apply unchanged.
 * Off unless an OTLP endpoint is set: a process that is not asked to trace registers nothing and
 * pays only for the no-op API. The SDK reads the rest itself (OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_*, OTEL_PROPAGATORS,
 * OTEL_EXPORTER_OTLP_(TRACES_)HEADERS, _TIMEOUT, _COMPRESSION); only what would otherwise fail in
 * silence is checked here: an endpoint that is not a URL makes the exporter fall back to
 * localhost, and an exporter or protocol this service does not speak would send nothing anyone
 * receives.
 */

/** The variables read here; README ("Tracing") documents them with the ones the SDK reads. */
export const TRACING_VARIABLES = [
  'OTEL_SDK_DISABLED',
  'OTEL_TRACES_EXPORTER',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
] as const;

const unsetWhenBlank = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);

const endpoint = z.preprocess(
  unsetWhenBlank,
  z
    .string()
    .trim()
    .refine((v) => URL.canParse(v) && ['http:', 'https:'].includes(new URL(v).protocol), 'must be an http:// or https:// URL (OTLP over HTTP, e.g. http://collector:4318)')
    .optional(),
);

/** OTLP over HTTP: every OTLP/HTTP receiver (port 4318) takes this exporter's JSON bodies, whichever of the two is named. */
const protocol = z.preprocess(
  unsetWhenBlank,
  z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['http/json', 'http/protobuf'], { error: 'must be http/json or http/protobuf: this service exports OTLP over HTTP (port 4318), not gRPC' }))
    .optional(),
);

const schema = z.object({
  // The specification's rule: only "true" turns the SDK off; anything else leaves it as configured.
  OTEL_SDK_DISABLED: z.preprocess(unsetWhenBlank, z.string().trim().toLowerCase().optional()).transform((v) => v === 'true'),
  OTEL_TRACES_EXPORTER: z.preprocess(
    unsetWhenBlank,
    z
      .string()
      .trim()
      .toLowerCase()
      .pipe(z.enum(['otlp', 'none'], { error: 'must be otlp (the default) or none: this service exports traces over OTLP only' }))
      .default('otlp'),
  ),
  OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: endpoint,
  OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: protocol,
});

export interface TracingSettings {
  /** Where spans go; the exporter reads the variable again itself (adding /v1/traces to the general one). */
  endpoint: string;
}

/** The tracing a process is configured for, or undefined when it exports no traces. Throws ConfigError for a bad value. */
export function tracingSettings(env: NodeJS.ProcessEnv = process.env): TracingSettings | undefined {
  const result = schema.safeParse(env);
  if (!result.success) throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  const s = result.data;
  const endpoint = s.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? s.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (s.OTEL_SDK_DISABLED || s.OTEL_TRACES_EXPORTER === 'none' || endpoint === undefined) return undefined;
  return { endpoint };
}
