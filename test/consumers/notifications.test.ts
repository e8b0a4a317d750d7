import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { messageIdFor } from '../../src/notifications/mailer';
import { pickFreePort, startMailCatcher, type MailCatcherHandle } from '../../tools/stack';
import { startSagaHarness, type SagaHarness } from '../support/harness';
import { requireStackVar } from '../support/stack-env';
import { json, runCli } from '../ops/support';
import { completedOrderStory, eventually, failedOrderStory, inbox, notificationRows, publishAll, startConsumerTestBed, stillAfter, type ConsumerTestBed } from './support';

/** MailDev keeps the id without the angle brackets. */
const inboxMessageId = (eventId: string) => messageIdFor(eventId).slice(1, -1);

describe('notification sender (group notification-sender) against the real broker, database and MailDev', () => {
  let bed: ConsumerTestBed;
  let inboxUrl: string;
  beforeAll(async () => {
    bed = await startConsumerTestBed('notifications');
    inboxUrl = requireStackVar('MAIL_INBOX_URL');
    await bed.startNotifier();
  });
  afterAll(async () => {
    await bed?.close();
  });

  describe('with real checkouts and the stack mail catcher', () => {
    let h: SagaHarness;
    beforeAll(async () => {
      h = await startSagaHarness({ env: bed.env });
    });
    afterAll(async () => {
      await h?.close();
    });

    it('sends one receipt whose amounts (in the order currency) and items match the order, then a refund confirmation', async () => {
      const mug = await h.seedProduct({ priceMinor: 1999, currency: 'EUR', name: 'Espresso cup' });
      const tea = await h.seedProduct({ priceMinor: 450, currency: 'EUR', name: 'Green tea' });
      const email = `receipt-${Date.now()}@example.com`;
      const { input } = await h.startCheckout({ items: [{ sku: mug, quantity: 2 }, { sku: tea, quantity: 1 }], customer: { email, name: 'Grace Hopper' } });
      expect((await h.result(input.checkoutId)).status).toBe('COMPLETED');

      const [receipt] = await eventually(async () => {
        const mails = await inbox(inboxUrl, email);
        expect(mails).toHaveLength(1);
        return mails;
      });
      const ref = input.orderId.slice(0, 8).toUpperCase();
      expect(receipt!.subject).toBe(`Your receipt for order ${ref} (€44.48)`);
      expect(receipt!.messageId).toBe(inboxMessageId(`checkout-${input.checkoutId}:order.confirmed`));
      for (const body of [receipt!.text, receipt!.html]) {
        expect(body).toContain('Grace Hopper');
        expect(body).toContain('2 × Espresso cup');
        expect(body).toContain('€39.98');
        expect(body).toContain('1 × Green tea');
        expect(body).toContain('€4.50');
        expect(body).toContain('€44.48');
        expect(body).toContain(input.orderId);
      }
      expect(receipt!.text).toContain('(€19.99 each)');

      // A real partial refund through the operator CLI: RefundWorkflow publishes payment.refunded.
      const refund = await runCli(h, ['refund', input.orderId, '--amount', '1999', '--reason', 'cracked cup', '--json'], bed.env);
      expect(json(refund)).toMatchObject({ ok: true });
      const refundMail = await eventually(async () => {
        const mails = await inbox(inboxUrl, email);
        expect(mails).toHaveLength(2);
        return mails.find((m) => m.subject.startsWith('Refund'))!;
      });
      expect(refundMail.subject).toBe(`Refund of €19.99 for order ${ref}`);
      expect(refundMail.text).toContain('We have refunded €19.99 to the card you paid with.');
      expect(refundMail.text).toContain('So far €19.99 of €44.48 has been refunded');
      expect(refundMail.text).toContain('Reason: cracked cup');
      expect(await notificationRows(bed.database.db, [input.orderId])).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ kind: 'receipt', status: 'sent', attempts: 1, recipient: email }),
          expect.objectContaining({ kind: 'refund-confirmation', status: 'sent', attempts: 1, recipient: email }),
        ]),
      );
    });

    it('tells a buyer whose card was declined, in plain words, that nothing was charged', async () => {
      const sku = await h.seedProduct();
      const email = `declined-${Date.now()}@example.com`;
      const { input } = await h.startCheckout({ items: [{ sku, quantity: 1 }], paymentMethodId: 'pm_card_chargeDeclined', customer: { email } });
      expect((await h.result(input.checkoutId)).status).toBe('FAILED');

      const [notice] = await eventually(async () => {
        const mails = await inbox(inboxUrl, email);
        expect(mails).toHaveLength(1);
        return mails;
      });
      expect(notice!.subject).toBe(`We could not complete your order ${input.orderId.slice(0, 8).toUpperCase()}`);
      expect(notice!.text).toContain('Your bank declined the payment.');
      expect(notice!.text).toContain('You have not been charged.');
      expect(notice!.text).not.toContain('PAYMENT_DECLINED');
      expect(notice!.html).toContain('You have not been charged.');
    });
  });

  it('sends one email when the same event is delivered twice, and formats yen without decimals', async () => {
    const story = completedOrderStory({ currency: 'JPY' });
    const confirmed = story.events[4]!;
    await publishAll(bed.publisher, [...story.events, confirmed]);

    const [mail] = await eventually(async () => {
      const mails = await inbox(inboxUrl, story.email);
      expect(mails).toHaveLength(1);
      return mails;
    });
    expect(mail!.text).toContain('¥3,399');
    expect(mail!.text).toContain('2 × Blue mug');
    await stillAfter(1_000, async () => {
      expect(await inbox(inboxUrl, story.email)).toHaveLength(1);
      expect(await notificationRows(bed.database.db, [story.orderId])).toEqual([expect.objectContaining({ eventId: confirmed.id, status: 'sent', attempts: 1 })]);
    });
  });

  it('sends one address at most FAILURE_NOTICES_PER_RECIPIENT_PER_HOUR failure notices, so checkouts in its name cannot flood it, and other addresses still get theirs', async () => {
    // Declined checkouts started in someone else's name: each would send them a failure notice.
    const target = `flooded-${Date.now()}@example.com`;
    const bystander = `bystander-${Date.now()}@example.com`;
    const floods = Array.from({ length: 6 }, () => failedOrderStory(target));
    for (const story of [...floods, failedOrderStory(bystander)]) await publishAll(bed.publisher, story.events);

    // The default limit, 3 an hour: the rest are recorded as suppressed, not sent.
    await eventually(async () => {
      const rows = await notificationRows(bed.database.db, floods.map((s) => s.orderId));
      expect(rows).toHaveLength(6);
      expect(rows.map((r) => r.status).sort()).toEqual(['sent', 'sent', 'sent', 'suppressed', 'suppressed', 'suppressed']);
    });
    await stillAfter(1_000, async () => {
      expect(await inbox(inboxUrl, target)).toHaveLength(3);
      expect(await inbox(inboxUrl, bystander)).toHaveLength(1);
    });
    expect(bed.config.FAILURE_NOTICES_PER_RECIPIENT_PER_HOUR).toBe(3);
  });

  describe('while the mail server is down', () => {
    // Topics of its own: the notifier above would otherwise send these emails through the stack's server.
    let outage: ConsumerTestBed;
    let mail: MailCatcherHandle | undefined;
    let stateDir: string;
    let ports: { smtpPort: number; webPort: number };
    beforeAll(async () => {
      outage = await startConsumerTestBed('smtp-outage');
      stateDir = mkdtempSync(path.join(os.tmpdir(), 'checkout-saga-maildev-'));
      ports = { smtpPort: await pickFreePort(), webPort: await pickFreePort() };
      mail = await startMailCatcher({ stateDir, ...ports });
    });
    afterAll(async () => {
      await outage?.close();
      await mail?.stop();
      rmSync(stateDir, { recursive: true, force: true });
    });

    it('keeps every email pending, never dead-letters them, and sends each exactly once when it is back', async () => {
      const smtpUrl = mail!.smtpUrl;
      const inboxOfOwnServer = mail!.inboxUrl;
      await outage.startNotifier({ smtpUrl });
      await mail!.stop();

      const stories = [completedOrderStory({ refunds: [500] }), completedOrderStory(), completedOrderStory({ refunds: [3399] })];
      for (const s of stories) await publishAll(outage.publisher, s.events);
      const notified = stories.flatMap((s) => s.events.filter((e) => ['order.confirmed', 'payment.refunded'].includes(e.type)));

      // The first email of each partition is tried again and again; nothing behind it is skipped.
      await eventually(async () => {
        const rows = await notificationRows(outage.database.db, stories.map((s) => s.orderId));
        expect(rows.length).toBeGreaterThan(0);
        expect(rows.every((r) => r.status === 'claimed')).toBe(true);
        expect(Math.max(...rows.map((r) => r.attempts))).toBeGreaterThanOrEqual(3);
        expect(rows.find((r) => r.attempts > 0)?.lastError).toMatch(/ECONNREFUSED|connect/i);
      }, 30_000);
      expect((await outage.deadLetters()).filter((d) => d.eventId && notified.some((e) => e.id === d.eventId))).toEqual([]);

      mail = await startMailCatcher({ stateDir, ...ports });
      const mails = await eventually(async () => {
        const all = (await inbox(inboxOfOwnServer)).filter((m) => stories.some((s) => m.to[0]?.address === s.email));
        expect(all).toHaveLength(notified.length);
        return all;
      }, 60_000);
      expect(mails.map((m) => m.messageId).sort()).toEqual(notified.map((e) => inboxMessageId(e.id)).sort());
      // Per order, in the order the events happened: the receipt before its refund confirmation.
      for (const s of stories) {
        const subjects = mails.filter((m) => m.to[0]?.address === s.email).map((m) => m.subject.split(' ')[0]);
        expect(subjects).toEqual(s.events.length > 5 ? ['Your', 'Refund'] : ['Your']);
      }
      await stillAfter(1_500, async () => {
        expect((await inbox(inboxOfOwnServer)).filter((m) => stories.some((s) => m.to[0]?.address === s.email))).toHaveLength(notified.length);
        const rows = await notificationRows(outage.database.db, stories.map((s) => s.orderId));
        expect(rows).toHaveLength(notified.length);
        expect(rows.every((r) => r.status === 'sent' && r.lastError === null)).toBe(true);
      });
    });
  });
});
