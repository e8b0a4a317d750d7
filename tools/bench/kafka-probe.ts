import { Kafka, logLevel, type Consumer } from 'kafkajs';

/**
 * Reads `checkout.events` as a downstream consumer would (its own, fresh consumer group) and notes
 * when each checkout's outcome event arrived, matched by `data.checkoutId`. Times are
 * `performance.now()` of this process, the same clock the load generator stamps its POSTs with.
 */

export const OUTCOME_TYPES = ['order.confirmed', 'checkout.failed', 'checkout.cancelled', 'checkout.needs_attention'] as const;
export type OutcomeType = (typeof OUTCOME_TYPES)[number];

export interface Outcome {
  type: OutcomeType;
  at: number;
}

export class KafkaOutcomeProbe {
  private readonly outcomes = new Map<string, Outcome>();
  private readonly listeners = new Set<(checkoutId: string, outcome: Outcome) => void>();
  /** Every event read, outcome or not: shows the probe was alive in a phase with no outcomes. */
  eventsRead = 0;

  private constructor(private readonly consumer: Consumer) {}

  /**
   * Joins a fresh group that starts at the end of the topic, and returns once it has fetched once,
   * so an event published after this returns is never missed (nor an older one read).
   */
  static async start(opts: { brokers: string[]; topic: string; groupId: string; timeoutMs?: number }): Promise<KafkaOutcomeProbe> {
    const kafka = new Kafka({ clientId: opts.groupId, brokers: opts.brokers, logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: opts.groupId, maxWaitTimeInMs: 50, sessionTimeout: 30_000 });
    const probe = new KafkaOutcomeProbe(consumer);
    let joined = false;
    const positioned = new Promise<void>((resolve) => {
      consumer.on(consumer.events.GROUP_JOIN, () => {
        joined = true;
      });
      // The first fetch after the join is when kafkajs has resolved "latest" to real offsets.
      consumer.on(consumer.events.FETCH, () => {
        if (joined) resolve();
      });
    });
    await consumer.connect();
    await consumer.subscribe({ topic: opts.topic, fromBeginning: false });
    await consumer.run({
      partitionsConsumedConcurrently: 3,
      eachBatch: async ({ batch }) => {
        const at = performance.now();
        for (const message of batch.messages) {
          probe.eventsRead++;
          if (!message.value) continue;
          let event: { type?: string; data?: { checkoutId?: string } };
          try {
            event = JSON.parse(message.value.toString('utf8')) as typeof event;
          } catch {
            continue;
          }
          const checkoutId = event.data?.checkoutId;
          if (!checkoutId || !(OUTCOME_TYPES as readonly string[]).includes(event.type ?? '')) continue;
          if (probe.outcomes.has(checkoutId)) continue;
          const outcome = { type: event.type as OutcomeType, at };
          probe.outcomes.set(checkoutId, outcome);
          for (const listener of probe.listeners) listener(checkoutId, outcome);
        }
      },
    });
    const timeoutMs = opts.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Kafka consumer ${opts.groupId} did not join and fetch within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([positioned, timedOut]);
    } catch (err) {
      await consumer.disconnect().catch(() => undefined);
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return probe;
  }

  outcome(checkoutId: string): Outcome | undefined {
    return this.outcomes.get(checkoutId);
  }

  onOutcome(listener: (checkoutId: string, outcome: Outcome) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Waits until every id has an outcome, at most `timeoutMs`; returns the ids still without one. */
  async waitForOutcomes(checkoutIds: readonly string[], timeoutMs: number, onProgress?: (missing: number) => void): Promise<string[]> {
    const deadline = performance.now() + timeoutMs;
    let nextNotice = performance.now() + 5_000;
    for (;;) {
      const missing = checkoutIds.filter((id) => !this.outcomes.has(id));
      if (missing.length === 0 || performance.now() >= deadline) return missing;
      if (onProgress && performance.now() >= nextNotice) {
        onProgress(missing.length);
        nextNotice += 5_000;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}
