import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { jsonResponse, noStore, problemResponse, security } from './common';
import { z } from 'zod';

/** What a load balancer and an orchestrator ask (routes/health.ts). Metrics are on API_METRICS_PORT, not here. */

const CheckResult = z.enum(['ok', 'timeout', 'failed']);
const Checks = z.record(z.string(), CheckResult).meta({ description: 'Per dependency (`postgres`, `temporal`, `kafka`; `consumers` advisory): `ok`, `timeout` or `failed`.' });

export function describeOperations(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: '/healthz',
    operationId: 'getLiveness',
    tags: ['operations'],
    summary: 'Liveness: the process answers',
    description: 'Checks nothing else, so a dependency outage never restarts the API.',
    security: security.none,
    responses: { 200: jsonResponse('Alive', z.strictObject({ status: z.literal('ok') }), noStore) },
  });

  registry.registerPath({
    method: 'get',
    path: '/readyz',
    operationId: 'getReadiness',
    tags: ['operations'],
    summary: 'Readiness: PostgreSQL, Temporal and Kafka each answer within 2 s',
    security: security.none,
    responses: {
      200: jsonResponse(
        'Ready for traffic (`degraded`: an advisory check such as the downstream consumers is failing)',
        z.strictObject({ status: z.enum(['ready', 'degraded']), checks: Checks }),
        noStore,
      ),
      503: problemResponse(503, 'Not ready: the failing dependencies are named', ['not-ready'], { extensions: { checks: Checks }, headers: noStore }),
    },
  });
}
