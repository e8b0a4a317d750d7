import type { ActivityDeps } from './deps';
import type { OutcomeEvent } from '../events/contract';

export function createEventActivities({ events }: Pick<ActivityDeps, 'events'>) {
  return {
    /** One publish per call; `time` comes from the workflow so a re-sent event is byte-identical. */
    async publishEvent(input: { event: OutcomeEvent; time: string }): Promise<void> {
      await events.publish(input.event, new Date(input.time));
    },
  };
}
