import { ApplicationFailure } from '@temporalio/common';
import type Stripe from 'stripe';
import { createPaymentActivities } from '../../src/activities/checkout/payment';
import { emulatorSuite, newCheckoutId } from '../stripe-emulator/support';

/**
 * The payment activities that only read Stripe (reconcilePayment, verifyPayment) and the undo's
 * answer for a payment still in flight, against the emulator validated by stripe-mock. No workflow
 * is needed: none of them depends on its activity attempt.
 */
describe('payment activities that ask Stripe what happened', () => {
  const suite = emulatorSuite();
  const activities = () => createPaymentActivities({ stripe: suite.emulator.stripe, appUrl: 'http://127.0.0.1:3000' });

  const intentFor = (checkoutId: string, paymentMethod: string, extra: Partial<Stripe.PaymentIntentCreateParams> = {}) =>
    suite.emulator.stripe.paymentIntents.create({
      amount: 1250,
      currency: 'eur',
      payment_method: paymentMethod,
      automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      metadata: { checkoutId },
      ...extra,
    });
  const paidIntent = (checkoutId: string, extra: Partial<Stripe.PaymentIntentCreateParams> = {}) =>
    intentFor(checkoutId, 'pm_card_visa', { confirm: true, ...extra });

  /** The failure an activity threw, so a test can assert on its type and whether Temporal may retry it. */
  async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
    try {
      await promise;
    } catch (err) {
      if (err instanceof ApplicationFailure) return err;
      throw err;
    }
    throw new Error('expected the activity to fail, but it succeeded');
  }

  describe('verifyPayment', () => {
    it('accepts a succeeded intent that pays the checkout its amount in its currency, and says what Stripe received', async () => {
      const checkoutId = newCheckoutId();
      const intent = await paidIntent(checkoutId);

      const verified = await activities().verifyPayment({ checkoutId, paymentIntentId: intent.id, amount: 1250, currency: 'EUR' });

      expect(verified).toEqual({ amountReceived: 1250 });
    });

    it('refuses an intent that received another amount, naming both amounts', async () => {
      const checkoutId = newCheckoutId();
      const intent = await paidIntent(checkoutId);

      const failure = await failureOf(activities().verifyPayment({ checkoutId, paymentIntentId: intent.id, amount: 1300, currency: 'EUR' }));

      expect(failure).toMatchObject({ type: 'PAYMENT_NOT_VERIFIED', nonRetryable: true });
      expect(failure.message).toContain(intent.id);
      expect(failure.message).toMatch(/1250/);
      expect(failure.message).toMatch(/1300/);
    });

    it('refuses an intent in another currency', async () => {
      const checkoutId = newCheckoutId();
      const intent = await paidIntent(checkoutId, { currency: 'usd' });

      const failure = await failureOf(activities().verifyPayment({ checkoutId, paymentIntentId: intent.id, amount: 1250, currency: 'EUR' }));

      expect(failure).toMatchObject({ type: 'PAYMENT_NOT_VERIFIED', nonRetryable: true });
      expect(failure.message).toMatch(/USD/);
      expect(failure.message).toMatch(/EUR/);
    });

    it('refuses an intent that belongs to another checkout', async () => {
      const checkoutId = newCheckoutId();
      const intent = await paidIntent(newCheckoutId());

      const failure = await failureOf(activities().verifyPayment({ checkoutId, paymentIntentId: intent.id, amount: 1250, currency: 'EUR' }));

      expect(failure).toMatchObject({ type: 'PAYMENT_NOT_VERIFIED', nonRetryable: true });
      expect(failure.message).toContain(checkoutId);
    });

    it('refuses an intent that has not succeeded (still processing, or never confirmed)', async () => {
      const checkoutId = newCheckoutId();
      const processing = await intentFor(checkoutId, 'pm_card_processing', { confirm: true });
      const unconfirmed = await intentFor(checkoutId, 'pm_card_visa');

      for (const intent of [processing, unconfirmed]) {
        const failure = await failureOf(activities().verifyPayment({ checkoutId, paymentIntentId: intent.id, amount: 1250, currency: 'EUR' }));
        expect(failure).toMatchObject({ type: 'PAYMENT_NOT_VERIFIED', nonRetryable: true });
        expect(failure.message).toContain(intent.status);
      }
    });

    it('refuses an intent Stripe does not know', async () => {
      const failure = await failureOf(
        activities().verifyPayment({ checkoutId: newCheckoutId(), paymentIntentId: 'pi_unknown000000000000000', amount: 1250, currency: 'EUR' }),
      );

      expect(failure).toMatchObject({ type: 'PAYMENT_NOT_VERIFIED', nonRetryable: true });
      expect(failure.message).toContain('pi_unknown000000000000000');
    });
  });

  describe('reconcilePayment', () => {
    it('reports a succeeded payment', async () => {
      const intent = await paidIntent(newCheckoutId());

      expect(await activities().reconcilePayment({ paymentIntentId: intent.id })).toEqual({ status: 'succeeded' });
    });

    it('reports a payment still processing', async () => {
      const intent = await intentFor(newCheckoutId(), 'pm_card_processing', { confirm: true });

      expect(await activities().reconcilePayment({ paymentIntentId: intent.id })).toEqual({ status: 'processing' });
    });

    it('reports a 3-D Secure challenge without its link, which carries the client secret into history', async () => {
      const intent = await intentFor(newCheckoutId(), 'pm_card_authenticationRequired', {
        automatic_payment_methods: { enabled: true },
        confirm: true,
        return_url: 'http://127.0.0.1:3000/?checkout=x',
      });

      const reconciled = await activities().reconcilePayment({ paymentIntentId: intent.id });

      expect(reconciled).toEqual({ status: 'requires_action' });
    });

    it('reports a payment that settled as failed, with the decline Stripe gave', async () => {
      const intent = await intentFor(newCheckoutId(), 'pm_card_processing', { confirm: true });
      await suite.emulator.post(`/_emulator/payment_intents/${intent.id}/settle`, { outcome: 'fail' });

      const reconciled = await activities().reconcilePayment({ paymentIntentId: intent.id });

      expect(reconciled).toEqual({ status: 'failed', failureCode: 'generic_decline', failureMessage: 'Your card was declined.' });
    });
  });

  describe('refundPayment (the undo) on a payment the bank is still working on', () => {
    it('answers pending and sends Stripe nothing: a processing intent can be neither cancelled nor refunded yet', async () => {
      const checkoutId = newCheckoutId();
      const intent = await intentFor(checkoutId, 'pm_card_processing', { confirm: true });

      const undo = await activities().refundPayment({ checkoutId, paymentIntentId: intent.id });

      expect(undo).toEqual({ action: 'pending' });
      const state = await suite.emulator.state(checkoutId);
      expect(state.paymentIntents[0]).toMatchObject({ status: 'processing' });
      expect(state.requests.filter((r) => r.method === 'POST').map((r) => r.path)).toEqual(['/v1/payment_intents']);
    });

    it('once the bank has failed it, the same undo cancels it', async () => {
      const checkoutId = newCheckoutId();
      const intent = await intentFor(checkoutId, 'pm_card_processing', { confirm: true });
      expect(await activities().refundPayment({ checkoutId, paymentIntentId: intent.id })).toEqual({ action: 'pending' });
      await suite.emulator.post(`/_emulator/payment_intents/${intent.id}/settle`, { outcome: 'fail' });

      const undo = await activities().refundPayment({ checkoutId, paymentIntentId: intent.id });

      expect(undo).toEqual({ action: 'voided' });
      expect((await suite.emulator.state(checkoutId)).paymentIntents[0]).toMatchObject({ status: 'canceled' });
    });
  });

  describe('refundPayment (the undo) after Stripe answered 500 to a request that went through', () => {
    it('a cancel whose answer was a saved 500 is reported as the void it was, without a second cancel', async () => {
      const checkoutId = newCheckoutId();
      const intent = await intentFor(checkoutId, 'pm_card_visa');
      await suite.emulator.post('/_emulator/faults', { status: 500, afterExecute: true, match: '^POST /v1/payment_intents/[^/]+/cancel$' });
      await expect(activities().refundPayment({ checkoutId, paymentIntentId: intent.id })).rejects.toThrow(/500/);

      const undo = await activities().refundPayment({ checkoutId, paymentIntentId: intent.id });

      expect(undo).toEqual({ action: 'voided' });
      const cancels = (await suite.emulator.state(checkoutId)).requests.filter((r) => r.path.endsWith('/cancel'));
      expect(cancels.map((r) => [r.status, r.fault])).toEqual([[500, 'after_execute']]);
    });

    it('a refund whose answer was a saved 500 is reported with its id, and nothing is refunded twice', async () => {
      const checkoutId = newCheckoutId();
      const intent = await paidIntent(checkoutId);
      await suite.emulator.post('/_emulator/faults', { status: 500, afterExecute: true, match: '^POST /v1/refunds$' });
      await expect(activities().refundPayment({ checkoutId, paymentIntentId: intent.id })).rejects.toThrow(/500/);

      const undo = await activities().refundPayment({ checkoutId, paymentIntentId: intent.id });

      const [refund, ...more] = (await suite.emulator.state(checkoutId)).paymentIntents[0]!.refunds;
      expect(more).toEqual([]);
      expect(undo).toEqual({ action: 'refunded', amount: 1250, currency: 'EUR', refundId: refund!.id });
    });
  });
});
