import type { Client } from '@temporalio/client';
import type { Admin } from 'kafkajs';
import type postgres from 'postgres';
import type { Logger } from '../logger';

export interface ReadinessReport {
  ready: boolean;
  /** Per dependency: `ok`, `timeout` or `failed`; the reason is logged, not published. */
  checks: Record<string, 'ok' | 'timeout' | 'failed'>;
  /** Advisory checks that are not `ok`: reported, but they do not make the API unready. */
  degraded?: string[];
}

export interface ReadinessChecker {
  check(): Promise<ReadinessReport>;
}

export type Probe = () => Promise<unknown>;

/**
 * Runs every probe in parallel, each cut off after `timeoutMs` so one hung dependency cannot hang /readyz.
 * `advisory` probes (the downstream consumers) are reported alongside but never make the API
 * unready: the API serves checkouts without them, and taking it out of rotation because the mail
 * sender is down would turn a late email into an outage.
 */
export function createReadinessChecker(
  probes: Record<string, Probe>,
  options: { timeoutMs?: number; logger?: Logger; advisory?: Record<string, Probe> } = {},
): ReadinessChecker {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const advisory = options.advisory ?? {};
  return {
    async check() {
      const entries = await Promise.all(
        Object.entries({ ...advisory, ...probes }).map(async ([name, probe]) => {
          const result = await withTimeout(probe(), timeoutMs).then(
            () => 'ok' as const,
            (err: unknown) => {
              options.logger?.warn({ err, dependency: name }, 'readiness probe failed');
              return err instanceof ProbeTimeout ? ('timeout' as const) : ('failed' as const);
            },
          );
          return [name, result] as const;
        }),
      );
      const checks = Object.fromEntries(entries);
      const failing = entries.filter(([, result]) => result !== 'ok').map(([name]) => name);
      const degraded = failing.filter((name) => name in advisory && !(name in probes));
      return { ready: failing.length === degraded.length, checks, ...(Object.keys(advisory).length ? { degraded } : {}) };
    },
  };
}

export function postgresProbe(sql: postgres.Sql): Probe {
  return () => sql`select 1`;
}

export function temporalProbe(client: Client, timeoutMs = 2_000): Probe {
  return () => client.withDeadline(Date.now() + timeoutMs, () => client.workflowService.getSystemInfo({}));
}

/** Connects the admin client lazily and reconnects after a failure, so a broker restart heals. */
export function kafkaProbe(admin: Admin): Probe {
  let connecting: Promise<void> | undefined;
  return async () => {
    try {
      connecting ??= admin.connect();
      await connecting;
      await admin.describeCluster();
    } catch (err) {
      connecting = undefined;
      await admin.disconnect().catch(() => undefined);
      throw err;
    }
  };
}

class ProbeTimeout extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeTimeout(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
