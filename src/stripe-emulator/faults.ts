import { z } from 'zod';

/**
 * Injected failures for `/v1` requests, to prove the service survives Stripe having a bad day:
 * - `status` (500/502/503), before execution: nothing happens and nothing is saved for the
 *   idempotency key, as when Stripe fails before the endpoint starts; a retry with the same key runs.
 * - `status` with `afterExecute: true`: the operation happens (money moves, events go out) and its
 *   real result is saved for the idempotency key, but the client sees the 5xx, as when the answer is
 *   lost on the way back. A retry with the same key gets the saved success (`Idempotent-Replayed`).
 *   Real Stripe would replay the 500 itself; we replay the success because the case worth testing is
 *   "the charge happened, the caller did not hear about it, and its retry must not charge again".
 * - `latencyMs`: the request runs at once but is answered after the delay; its idempotency key stays
 *   in use meanwhile, so a concurrent retry gets 409 like a slow request at Stripe.
 * `count`/`latencyCount` say how many matching requests are affected (default 1 each); `match` is a
 * regular expression tested against "METHOD /path" (e.g. "^POST /v1/payment_intents/[^/]+/confirm$").
 */

export const faultSpecSchema = z
  .strictObject({
    status: z.union([z.literal(500), z.literal(502), z.literal(503)]).optional(),
    count: z.number().int().min(1).default(1),
    latencyMs: z.number().int().min(0).max(120_000).optional(),
    latencyCount: z.number().int().min(1).default(1),
    match: z
      .string()
      .refine((source) => isValidRegex(source), { error: 'must be a valid regular expression' })
      .optional(),
    afterExecute: z.boolean().default(false),
  })
  .refine((f) => f.status !== undefined || f.latencyMs !== undefined, { error: 'give status, latencyMs or both' })
  .refine((f) => !f.afterExecute || f.status !== undefined, { error: 'afterExecute needs a status' });

export type FaultSpec = z.output<typeof faultSpecSchema>;

export interface FaultRule extends FaultSpec {
  id: number;
  remaining: number;
  latencyRemaining: number;
}

export interface FaultDecision {
  error: { status: 500 | 502 | 503; afterExecute: boolean } | null;
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
      error: errorRule?.status ? { status: errorRule.status, afterExecute: errorRule.afterExecute } : null,
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
