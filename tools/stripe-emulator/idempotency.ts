import type { EmulatorClock } from './clock';
import { StripeApiError } from './errors';

/**
 * Stripe's idempotency layer: the first request with a key saves its status and body once its
 * endpoint started executing, whatever they are (a success, a decline, a 400 for the object's state,
 * a 500), and every later request with that key (from the same API key, within 24 hours) gets them
 * back instead of running again. A key reused for another endpoint or other parameters is refused; a
 * key whose first request is still running answers 409, which the SDK retries.
 */

export interface StoredResponse {
  status: number;
  body: unknown;
  requestId: string;
  /** Headers that belong to the answer itself and are replayed with it (e.g. `Stripe-Should-Retry`). */
  headers?: Record<string, string>;
}

interface Entry {
  endpoint: string;
  fingerprint: string;
  createdAtMs: number;
  response: StoredResponse | null;
}

export type IdempotencyLookup =
  | { kind: 'new'; complete(response: StoredResponse): void; abandon(): void }
  | { kind: 'replay'; response: StoredResponse };

const MAX_KEY_LENGTH = 255;

export class IdempotencyStore {
  private readonly entries = new Map<string, Entry>();

  constructor(
    /** Stripe keeps a key "at least 24 hours"; the emulator forgets it exactly then. */
    private readonly clock: EmulatorClock,
    private readonly ttlMs = 24 * 3600_000,
  ) {}

  /**
   * Claims `key` for a request, or returns what the first request with it answered.
   * Throws the error Stripe answers for a key that is in use, too long, or reused differently.
   */
  begin(scope: { apiKey: string; key: string; endpoint: string; params: unknown }): IdempotencyLookup {
    if (scope.key.length > MAX_KEY_LENGTH) {
      throw new StripeApiError(
        400,
        { type: 'invalid_request_error', message: `Invalid idempotency key: keys must be at most ${MAX_KEY_LENGTH} characters long.` },
        false,
      );
    }
    this.forgetExpired();
    // Keys belong to an account (here: an API key), so two services never collide on "order-1".
    const id = `${scope.apiKey}\u0000${scope.key}`;
    const fingerprint = canonicalJson(scope.params);
    const existing = this.entries.get(id);
    if (existing) {
      if (existing.endpoint !== scope.endpoint) {
        throw idempotencyError(
          `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${existing.endpoint}' vs '${scope.endpoint}'). Try using a key other than '${scope.key}' if you meant to execute a different request.`,
        );
      }
      if (existing.fingerprint !== fingerprint) {
        throw idempotencyError(
          `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${scope.key}' if you meant to execute a different request.`,
        );
      }
      if (!existing.response) {
        throw new StripeApiError(
          409,
          {
            type: 'invalid_request_error',
            code: 'idempotency_key_in_use',
            message: `There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ${scope.key}. Please try again later.`,
          },
          false,
        );
      }
      return { kind: 'replay', response: existing.response };
    }
    const entry: Entry = { endpoint: scope.endpoint, fingerprint, createdAtMs: this.clock.now(), response: null };
    this.entries.set(id, entry);
    return {
      kind: 'new',
      complete: (response) => {
        entry.response = response;
      },
      abandon: () => {
        if (this.entries.get(id) === entry) this.entries.delete(id);
      },
    };
  }

  clear(): void {
    this.entries.clear();
  }

  private forgetExpired(): void {
    const cutoff = this.clock.now() - this.ttlMs;
    for (const [id, entry] of this.entries) {
      if (entry.response && entry.createdAtMs < cutoff) this.entries.delete(id);
    }
  }
}

function idempotencyError(message: string): StripeApiError {
  return new StripeApiError(400, { type: 'idempotency_error', message }, false);
}

/** Parameters compared by value: the same request encoded with keys in another order is the same request. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}
