import type { Admin } from 'kafkajs';
import { Gauge, type Registry } from 'prom-client';

/**
 * What the API tells Prometheus and its readiness check about the consumers, read from the broker
 * (admin offsets and group state) rather than from the consumer processes: it is what Kafka itself
 * knows, so it stays true when a consumer process is hung, dead or was never started.
 */

export interface ConsumerMonitoringOptions {
  topic: string;
  dlqTopic: string;
  groups: readonly string[];
}

export interface PartitionLag {
  partition: number;
  /** The group's committed offset (the next record it will read); null when it never committed. */
  committed: string | null;
  /** The partition's end offset (high watermark). */
  end: string;
  lag: number;
}

export interface ConsumerLagSnapshot {
  groups: Array<{ groupId: string; partitions: PartitionLag[] }>;
  /** Dead letters retained per DLQ partition. */
  dlq: Array<{ partition: number; messages: number }>;
}

export async function readConsumerLag(admin: Admin, opts: ConsumerMonitoringOptions): Promise<ConsumerLagSnapshot> {
  const [topicOffsets, dlqOffsets] = await Promise.all([admin.fetchTopicOffsets(opts.topic), admin.fetchTopicOffsets(opts.dlqTopic)]);
  const groups = await Promise.all(
    opts.groups.map(async (groupId) => {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [opts.topic] });
      const byPartition = new Map((committed?.partitions ?? []).map((p) => [p.partition, p.offset]));
      const partitions = topicOffsets
        .map((t): PartitionLag => {
          const offset = byPartition.get(t.partition);
          const hasCommitted = offset !== undefined && Number(offset) >= 0;
          // A group that never committed starts at the earliest retained record: all of it is lag.
          const from = hasCommitted ? Number(offset) : Number(t.low);
          return { partition: t.partition, committed: hasCommitted ? offset! : null, end: t.high, lag: Math.max(0, Number(t.high) - from) };
        })
        .sort((a, b) => a.partition - b.partition);
      return { groupId, partitions };
    }),
  );
  const dlq = dlqOffsets.map((p) => ({ partition: p.partition, messages: Math.max(0, Number(p.high) - Number(p.low)) })).sort((a, b) => a.partition - b.partition);
  return { groups, dlq };
}

/**
 * Registers, in `registry`, gauges computed at scrape time:
 * `checkout_events_consumer_lag{group,partition}`, `checkout_events_dlq_messages{partition}` and
 * `checkout_events_consumer_lag_up` (0 when the broker did not answer, so a silent gap in the lag
 * series is never read as "no lag").
 */
export function registerConsumerMetrics(registry: Registry, admin: Admin, opts: ConsumerMonitoringOptions & { timeoutMs?: number }): void {
  if (registry.getSingleMetric('checkout_events_consumer_lag')) return;
  const connect = lazyConnection(admin);
  const timeoutMs = opts.timeoutMs ?? 2_000;
  // One broker round per scrape, shared by the gauges' collect() calls of that scrape.
  let pending: { at: number; snapshot: Promise<ConsumerLagSnapshot | undefined> } | undefined;
  const snapshot = () => {
    if (!pending || Date.now() - pending.at > 500) {
      pending = {
        at: Date.now(),
        snapshot: withTimeout(
          connect().then(() => readConsumerLag(admin, opts)),
          timeoutMs,
        ).catch(async () => {
          await connect.reset();
          return undefined;
        }),
      };
    }
    return pending.snapshot;
  };

  new Gauge({
    name: 'checkout_events_consumer_lag_up',
    help: '1 when consumer lag and DLQ size could be read from Kafka at this scrape, else 0',
    registers: [registry],
    async collect() {
      this.set((await snapshot()) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'checkout_events_consumer_lag',
    help: 'Records of checkout.events not yet processed, per consumer group and partition (end offset minus committed offset)',
    labelNames: ['group', 'partition'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const s = await snapshot();
      for (const g of s?.groups ?? []) for (const p of g.partitions) this.set({ group: g.groupId, partition: String(p.partition) }, p.lag);
    },
  });
  new Gauge({
    name: 'checkout_events_dlq_messages',
    help: 'Dead letters retained in checkout.events.dlq, per partition',
    labelNames: ['partition'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const s = await snapshot();
      for (const p of s?.dlq ?? []) this.set({ partition: String(p.partition) }, p.messages);
    },
  });
}

/**
 * Readiness of the consumers: every group has at least one live member. A member that stopped
 * heartbeating is dropped by the broker after its session timeout, so this turns false when the
 * consumers process is dead or hung, not merely when it is busy waiting out an outage.
 */
export function consumerGroupsProbe(admin: Admin, groups: readonly string[]): () => Promise<void> {
  const connect = lazyConnection(admin);
  return async () => {
    try {
      await connect();
      const { groups: described } = await admin.describeGroups([...groups]);
      const problems = groups.flatMap((groupId) => {
        const g = described.find((d) => d.groupId === groupId);
        if (!g || g.members.length === 0) return [`${groupId}: no running consumer (${g?.state ?? 'unknown'})`];
        if (g.state === 'Dead') return [`${groupId}: group is Dead`];
        return [];
      });
      if (problems.length) throw new ConsumersNotRunning(problems.join('; '));
    } catch (err) {
      if (!(err instanceof ConsumersNotRunning)) await connect.reset();
      throw err;
    }
  };
}

export class ConsumersNotRunning extends Error {}

/** Connects on first use and again after a failure, so a broker restart heals by itself. */
function lazyConnection(admin: Admin): (() => Promise<void>) & { reset(): Promise<void> } {
  let connecting: Promise<void> | undefined;
  const connect = () => (connecting ??= admin.connect());
  return Object.assign(connect, {
    async reset() {
      connecting = undefined;
      await admin.disconnect().catch(() => undefined);
    },
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
