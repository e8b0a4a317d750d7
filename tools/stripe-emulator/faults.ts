import { z } from 'zod';

/**
 * Injected failures for `/v1` requests, to prove the service survives Stripe having a bad day, and
 * never a kinder Stripe than the real one (see README "Faults" for the Stripe docs each follows):
 * - `status` 500/502/503, before execution: nothing happens and nothing is saved for the idempotency
 *   key, as when Stripe fails before the endpoint starts; a retry with the same key runs.
 * - `status` 5xx with `afterExecute: true`: the operation happens (money moves, events go out), and
 *   then the request fails. Stripe saves a result once the endpoint started executing, a 500
 *   included, so the 5xx is what is saved: every retry with that key gets the same 5xx
 *   (`Idempotent-Replayed: true`, `Stripe-Should-Retry: false`). The caller must find out what
 *   happened by reading Stripe, not by re-sending the key.
 * - `rolledBack: true` (with `afterExecute`): the endpoint started and failed without keeping
 *   anything: no object, no money, no event, yet the 5xx is saved and replayed the same way.
 * - `status` 429: a rate limiter refused the request before it ran (nothing saved): `code`
 *   `rate_limit` (default; `Stripe-Rate-Limited-Reason: global-rate`, which the SDK does not retry)
 *   or `lock_timeout` (another request holds the object; `Stripe-Should-Retry: true`, which the SDK
 *   retries by itself).
 * - `latencyMs`: the request runs at once but is answered after the delay; its idempotency key stays
 *   in use meanwhile, so a concurrent retry gets 409 like a slow request at Stripe.
 * `count`/`latencyCount` say how many matching requests are affected (default 1 each); `match` is a
 * regular expression tested against "METHOD /path" (e.g. "^POST /v1/payment_intents/[^/]+/confirm$").
 */

export const faultSpecSchema = z
  .strictObject({
    status: z.union([z.literal(429), z.literal(500), z.literal(502), z.literal(503)]).optional(),
    code: z.enum(['rate_limit', 'lock_timeout']).optional(),
    count: z.number().int().min(1).default(1),
    latencyMs: z.number().int().min(0).max(120_000).optional(),
    latencyCount: z.number().int().min(1).default(1),
    match: z
      .string()
      .refine((source) => isValidRegex(source), { error: 'must be a valid regular expression' })
      .optional(),
    afterExecute: z.boolean().default(false),
    rolledBack: z.boolean().default(false),
  })
  .refine((f) => f.status !== undefined || f.latencyMs !== undefined, { error: 'give status, latencyMs or both' })
  .refine((f) => !f.afterExecute || (f.status !== undefined && f.status >= 500), {
    error: 'afterExecute needs a 5xx status (rate limiters refuse before the endpoint starts)',
  })
  .refine((f) => !f.rolledBack || f.afterExecute, { error: 'rolledBack describes an execution: give afterExecute too' })
  .refine((f) => f.code === undefined || f.status === 429, { error: 'code applies to a 429 only' });

export type FaultSpec = z.output<typeof faultSpecSchema>;

export interface FaultRule extends FaultSpec {
  id: number;
  remaining: number;
  latencyRemaining: number;
}

/** When an injected error strikes, relative to the operation (see the list above). */
export type FaultPhase = 'before_execute' | 'after_execute' | 'rolled_back';

export interface InjectedError {
  status: 429 | 500 | 502 | 503;
  phase: FaultPhase;
  code: 'rate_limit' | 'lock_timeout';
}

export interface FaultDecision {
  error: InjectedError | null;
  latencyMs: number | null;
}

export class FaultInjector {
  private rules: FaultRule[] = [];
  private nextId = 1;

  add(spec: FaultSpec): FaultRule {
    const rule: FaultRule = {
      ...spec,
      id: this.nextId++,
      remaining: spec.status === undefined ? 0 : spec.count,
      latencyRemaining: spec.latencyMs === undefined ? 0 : spec.latencyCount,
    };
    this.rules.push(rule);
    return rule;
  }

  list(): FaultRule[] {
    return this.rules.filter((r) => r.remaining > 0 || r.latencyRemaining > 0);
  }

  clear(): void {
    this.rules = [];
  }

  /** Decides the fate of one request, using up one unit of each matching rule it takes. */
  take(method: string, path: string): FaultDecision {
    const target = `${method} ${path}`;
    const matches = (r: FaultRule) => !r.match || new RegExp(r.match).test(target);
    const errorRule = this.rules.find((r) => r.remaining > 0 && matches(r));
    const latencyRule = this.rules.find((r) => r.latencyRemaining > 0 && matches(r));
    if (errorRule) errorRule.remaining -= 1;
    if (latencyRule) latencyRule.latencyRemaining -= 1;
    this.rules = this.list();
    return {
      error: errorRule?.status
        ? {
            status: errorRule.status,
            phase: errorRule.rolledBack ? 'rolled_back' : errorRule.afterExecute ? 'after_execute' : 'before_execute',
            code: errorRule.code ?? 'rate_limit',
          }
        : null,
      latencyMs: latencyRule?.latencyMs ?? null,
    };
  }
}

function isValidRegex(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}
