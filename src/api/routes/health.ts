import { Router } from 'express';
import { sendProblem } from '../problem';
import type { ApiContext } from './context';

export function healthRoutes({ deps }: ApiContext): Router {
  const router = Router();

  /** Liveness: the process answers. Deliberately checks nothing else, so a dependency outage never restarts it. */
  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });

  /** Readiness: route traffic here only while PostgreSQL, Temporal and Kafka all answer. */
  router.get('/readyz', async (req, res) => {
    const report = await deps.readiness.check();
    res.set('Cache-Control', 'no-store');
    if (report.ready) {
      // Degraded: ready for traffic, but an advisory check (the downstream consumers) is failing.
      res.json({ status: report.degraded?.length ? 'degraded' : 'ready', checks: report.checks });
      return;
    }
    const failing = Object.entries(report.checks).filter(([, result]) => result !== 'ok').map(([name]) => name);
    sendProblem(req, res, {
      status: 503,
      code: 'not-ready',
      title: 'Not ready',
      detail: `Not answering: ${failing.join(', ')}.`,
      checks: report.checks,
    });
  });

  return router;
}
