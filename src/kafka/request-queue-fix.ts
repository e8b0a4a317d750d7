import { createRequire } from 'node:module';

/**
 * kafkajs 2.2.4 (its last release) keeps one timer spinning per broker connection: once a request
 * has been answered, its request queue re-checks for pending requests every millisecond, forever,
 * even with nothing pending and no throttle (`throttledUntil - Date.now()` is a negative delay,
 * which Node turns into 1 ms; Node 24 also prints a TimeoutNegativeWarning for it). Upstream:
 * https://github.com/tulios/kafkajs/issues/1751, fixes proposed in #1755 and #1768, not merged.
 *
 * This replaces that one method with upstream's own logic minus the spin: a check is scheduled only
 * while requests wait (throttled or not), as before; with none waiting there is nothing to check,
 * and the next request pushed schedules its own. Applied once per process, before any client
 * connects (src/kafka/client-config.ts imports it).
 */
interface RequestQueue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** kafkajs' own interval for a queue whose requests wait on the in-flight limit (src/network/requestQueue). */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

const requireFromHere = createRequire(__filename);
const RequestQueueClass = requireFromHere('kafkajs/src/network/requestQueue') as { prototype: RequestQueue };

export const KAFKAJS_SPIN_FIXED = Symbol.for('checkout-saga.kafkajs-request-queue-fix');

const proto = RequestQueueClass.prototype as RequestQueue & { [KAFKAJS_SPIN_FIXED]?: true };
if (!proto[KAFKAJS_SPIN_FIXED]) {
  proto.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: RequestQueue): void {
    if (this.throttleCheckTimeoutId) return;
    const throttledFor = this.throttledUntil - Date.now();
    if (this.pending.length === 0) return;
    this.throttleCheckTimeoutId = setTimeout(
      () => {
        this.throttleCheckTimeoutId = null;
        this.checkPendingRequests();
      },
      throttledFor > 0 ? throttledFor : CHECK_PENDING_REQUESTS_INTERVAL_MS,
    );
  };
  proto[KAFKAJS_SPIN_FIXED] = true;
}
