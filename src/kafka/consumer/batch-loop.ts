import type { EachBatchPayload } from 'kafkajs';
import type { Logger } from '../../logger';
import { DeliveryInterrupted, type RecordHandler } from './delivery';

/**
 * The kafkajs `eachBatch` handler (run with `eachBatchAutoResolve: false`): the records of one
 * partition one at a time, in order, and a record's offset resolved only once `handle` ended with
 * it, so its effect has committed before its offset can be. A batch left half-way (stop,
 * rebalance, crash) resumes at the first record not done.
 */
export function inOrderBatches(handle: RecordHandler, logger: Logger): (payload: EachBatchPayload) => Promise<void> {
  return async ({ batch, resolveOffset, commitOffsetsIfNecessary, heartbeat, isRunning, isStale }) => {
    const wait = heartbeatingWait({ heartbeat, isRunning, isStale });
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) return;
      try {
        await handle({ topic: batch.topic, partition: batch.partition, message, logger, tries: 0, wait });
      } catch (err) {
        if (!(err instanceof DeliveryInterrupted)) throw err;
        if (err.kafkaError !== undefined) throw err.kafkaError;
        return;
      }
      resolveOffset(message.offset);
      await commitOffsetsIfNecessary();
      await heartbeat();
    }
  };
}

/** Cut a long wait into slices so the group still sees a heartbeat while a record is retried. */
const WAIT_SLICE_MS = 1_000;

type BatchControl = Pick<EachBatchPayload, 'heartbeat' | 'isRunning' | 'isStale'>;

function heartbeatingWait(ctl: BatchControl): (ms: number) => Promise<void> {
  return async (ms) => {
    const until = Date.now() + ms;
    for (;;) {
      if (!ctl.isRunning() || ctl.isStale()) throw new DeliveryInterrupted('the consumer is stopping or no longer owns the partition');
      const left = until - Date.now();
      if (left <= 0) return;
      await new Promise((r) => setTimeout(r, Math.min(left, WAIT_SLICE_MS)));
      try {
        await ctl.heartbeat();
      } catch (err) {
        // The group is rebalancing: handed to kafkajs, which rejoins.
        throw new DeliveryInterrupted('heartbeat refused', err);
      }
    }
  };
}
