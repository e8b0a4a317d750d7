import { randomUUID } from 'node:crypto';
import { ALL_CONSUMER_GROUPS, CONSUMER_GROUPS } from '../../src/kafka/consumer/groups';
import { startServiceProcess, type ServiceProcess } from '../support/service-process';

/**
 * A deployment runs each downstream consumer as its own process with its own Kafka principal
 * (docker-compose.yml), so a consumers process must join only the groups CONSUMER_GROUPS names: a
 * principal allowed one group would otherwise be refused the other's and crash.
 */
describe('the consumers process', () => {
  const processes: ServiceProcess[] = [];
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
  });

  // Own topics, so these processes never consume the rest of the suite's events.
  const topics = () => {
    const suffix = randomUUID().slice(0, 8);
    return { KAFKA_TOPIC: `consumer-processes-${suffix}`, KAFKA_DLQ_TOPIC: `consumer-processes-${suffix}.dlq`, LOG_LEVEL: 'info' };
  };

  it.each([[[CONSUMER_GROUPS.notificationSender]], [[CONSUMER_GROUPS.orderHistoryProjector]], [ALL_CONSUMER_GROUPS]])('with CONSUMER_GROUPS=%s joins those groups and no other', async (groups) => {
    const consumers = startServiceProcess('src/workers/consumers-main.ts', { ...topics(), CONSUMER_GROUPS: groups.join(',') });
    processes.push(consumers);
    const started = await consumers.waitForLog((l) => l.msg === 'consumers started', 'consumers started');
    expect([...(started.groups as string[])].sort()).toEqual([...groups].sort());
  });
});
