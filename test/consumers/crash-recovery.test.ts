import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { messageIdFor } from '../../src/notifications/mailer';
import { requireStackVar } from '../support/stack-env';
import { completedOrderStory, eventually, inbox, notificationRows, orderRow, processedEvents, publishAll, startConsumerTestBed, type ConsumerTestBed, type OrderStory } from './support';

const CHILD = path.resolve(__dirname, 'fixtures/consumers-child.ts');
const ROOT = path.resolve(__dirname, '../..');

interface Child {
  process: ChildProcess;
  /** `waiting <group> <eventId>` lines so far. */
  waits: string[];
  ready: Promise<void>;
}

function startChild(env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: process.env.CHILD_LOG_LEVEL ?? 'error', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const waits: string[] = [];
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  let buffer = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const line of lines) {
      if (line === 'ready') markReady();
      if (line.startsWith('waiting ')) waits.push(line);
    }
  });
  return { process: proc, waits, ready };
}

describe('a consumers process killed mid-batch and restarted loses nothing and duplicates nothing', () => {
  let bed: ConsumerTestBed;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    bed = await startConsumerTestBed('crash-recovery');
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await bed?.close();
  });

  it('SIGKILL between two messages, offsets not yet committed: the restart redelivers, both consumers drop what they had done', async () => {
    const projectorGroup = bed.groupId('crash-projector');
    const notifierGroup = bed.groupId('crash-notifier');
    const stories: OrderStory[] = Array.from({ length: 8 }, (_, i) => completedOrderStory({ refunds: i % 2 === 0 ? [300] : [] }));
    for (const s of stories) await publishAll(bed.publisher, s.events);
    const events = stories.flatMap((s) => s.events);
    const mails = events.filter((e) => e.type === 'order.confirmed' || e.type === 'payment.refunded');
    const orderIds = stories.map((s) => s.orderId);
    const groupEnv = { ...bed.env, CHILD_PROJECTOR_GROUP: projectorGroup, CHILD_NOTIFIER_GROUP: notifierGroup };

    // First life: slow, committing only at the end of a batch, the notifier one partition at a time.
    const first = startChild({ ...groupEnv, CHILD_DELAY_MS: '150', CHILD_COMMIT_INTERVAL_MS: '600000', CHILD_NOTIFIER_CONCURRENCY: '1' });
    children.push(first.process);
    const notifierWaits = () => first.waits.filter((w) => w.includes(notifierGroup)).length;
    await eventually(async () => {
      expect(notifierWaits()).toBeGreaterThanOrEqual(4);
      expect(first.waits.filter((w) => w.includes(projectorGroup)).length).toBeGreaterThanOrEqual(15);
    }, 60_000, 10);
    // Kill right after the notifier announced its next message (it is in the pause before it, no
    // email in flight) while the projector is inside a story, past its first event: that partition's
    // batch is part done and, committing only at a batch's end, not committed. Killed at a batch's
    // first event instead, committed work would equal done work and there would be nothing to redeliver.
    const storyOpeners = new Set(stories.map((s) => s.events[0]!.id));
    const projectorInsideAStory = () => {
      const last = first.waits.filter((w) => w.includes(projectorGroup)).at(-1)!;
      return !storyOpeners.has(last.slice(last.lastIndexOf(' ') + 1));
    };
    await eventually(async () => {
      const seen = notifierWaits();
      await eventually(async () => expect(notifierWaits()).toBeGreaterThan(seen), 10_000, 2);
      expect(projectorInsideAStory()).toBe(true);
    }, 30_000, 0);
    first.process.kill('SIGKILL');
    await once(first.process, 'exit');

    const doneBefore = await processedEvents(bed.database.db, orderIds);
    const sentBefore = (await notificationRows(bed.database.db, orderIds)).filter((r) => r.status === 'sent');
    expect(doneBefore.length).toBeGreaterThan(0);
    expect(doneBefore.length).toBeLessThan(events.length);
    expect(sentBefore.length).toBeGreaterThan(0);
    expect(sentBefore.length).toBeLessThan(mails.length);
    // Work was done past the committed offsets: the second life must meet it again.
    const committed = async (groupId: string) =>
      (await bed.admin.fetchOffsets({ groupId, topics: [bed.config.KAFKA_TOPIC] }))[0]!.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
    expect(await committed(projectorGroup)).toBeLessThan(doneBefore.length);

    // Second life: same groups, full speed.
    const second = startChild({ ...groupEnv, CHILD_DELAY_MS: '0' });
    children.push(second.process);
    await second.ready;
    await eventually(async () => {
      expect(await processedEvents(bed.database.db, orderIds)).toHaveLength(events.length);
      const rows = await notificationRows(bed.database.db, orderIds);
      expect(rows.filter((r) => r.status === 'sent')).toHaveLength(mails.length);
    }, 60_000);
    // It did meet the done-but-uncommitted messages again (and dropped them).
    const redelivered = second.waits.filter((w) => doneBefore.some((d) => w.endsWith(` ${d.eventId}`)) && w.includes(projectorGroup));
    expect(redelivered.length).toBeGreaterThan(0);

    const received = (await inbox(requireStackVar('MAIL_INBOX_URL'))).filter((m) => stories.some((s) => s.email === m.to[0]?.address));
    expect(received.map((m) => m.messageId).sort()).toEqual(mails.map((e) => messageIdFor(e.id).slice(1, -1)).sort());
    expect((await notificationRows(bed.database.db, orderIds)).every((r) => r.attempts === 1)).toBe(true);
    for (const s of stories) {
      const row = await orderRow(bed.database.db, s.orderId);
      expect(row).toMatchObject({ status: s.events.length > 5 ? 'PARTIALLY_REFUNDED' : 'CONFIRMED', lastSequence: s.events.length });
    }

    second.process.kill('SIGTERM');
    const [code] = (await once(second.process, 'exit')) as [number | null];
    expect(code).toBe(0);
    // A clean stop commits what was done: nothing left behind for the group.
    expect(await committed(projectorGroup)).toBe((await bed.admin.fetchTopicOffsets(bed.config.KAFKA_TOPIC)).reduce((n, p) => n + Number(p.high), 0));
  });

  it('a crash after the mail server accepted an email but before it was marked sent resends it once, with the same Message-ID (the documented window)', async () => {
    const own = await startConsumerTestBed('crash-window');
    try {
      const story = completedOrderStory();
      const confirmed = story.events[4]!;
      await publishAll(own.publisher, story.events);
      const groupEnv = { ...own.env, CHILD_PROJECTOR_GROUP: own.groupId('window-projector'), CHILD_NOTIFIER_GROUP: own.groupId('window-notifier') };

      const dying = startChild({ ...groupEnv, CHILD_DIE_AFTER_ACCEPT: confirmed.id });
      children.push(dying.process);
      const [, signal] = (await once(dying.process, 'exit')) as [number | null, string | null];
      expect(signal).toBe('SIGKILL');
      expect(await notificationRows(own.database.db, [story.orderId])).toEqual([expect.objectContaining({ status: 'claimed', attempts: 1, lastError: null })]);

      const again = startChild(groupEnv);
      children.push(again.process);
      await eventually(async () => expect(await notificationRows(own.database.db, [story.orderId])).toEqual([expect.objectContaining({ status: 'sent', attempts: 2 })]));
      const copies = await inbox(requireStackVar('MAIL_INBOX_URL'), story.email);
      // Two deliveries, one identity: a mailbox that dedupes by Message-ID shows one email.
      expect(copies.map((m) => m.messageId)).toEqual([messageIdFor(confirmed.id).slice(1, -1), messageIdFor(confirmed.id).slice(1, -1)]);
      again.process.kill('SIGTERM');
      await once(again.process, 'exit');
    } finally {
      await own.close();
    }
  });
});
