import { randomUUID } from 'node:crypto';
import nodemailer from 'nodemailer';
import Stripe from 'stripe';
import { requireStackVar, stackEnv } from '../support/stack-env';

describe('stripe-mock in the local stack', () => {
  const stripeMock = () => {
    const url = new URL(requireStackVar('STRIPE_MOCK_URL'));
    return new Stripe('sk_test_stack', { host: url.hostname, port: Number(url.port), protocol: 'http', maxNetworkRetries: 0 });
  };

  it('accepts a well-formed PaymentIntent request', async () => {
    const intent = await stripeMock().paymentIntents.create({ amount: 1999, currency: 'eur' });
    expect(intent.object).toBe('payment_intent');
  });

  it('rejects a request that does not match Stripe’s API, which is what the emulator relies on it for', async () => {
    await expect(stripeMock().paymentIntents.create({ amount: 'lots' as unknown as number, currency: 'eur' })).rejects.toMatchObject({ type: 'StripeInvalidRequestError' });
  });
});

describe('Stripe emulator in the local stack', () => {
  it('answers its health route at STRIPE_API_URL', async () => {
    const res = await fetch(`${requireStackVar('STRIPE_API_URL')}/_emulator/health`);
    expect(res.status).toBe(200);
  });
});

describe('mail catcher in the local stack', () => {
  it('receives what the service sends over SMTP_URL and lists it in the inbox JSON API', async () => {
    const subject = `stack test ${randomUUID()}`;
    const transport = nodemailer.createTransport(stackEnv().SMTP_URL);
    await transport.sendMail({ from: 'orders@checkout-saga.local', to: 'ada@example.com', subject, text: 'hello' });
    transport.close();

    const res = await fetch(`${requireStackVar('MAIL_INBOX_URL')}/email`);
    const mails = (await res.json()) as Array<{ subject: string; to: Array<{ address: string }> }>;
    expect(mails.find((m) => m.subject === subject)?.to).toEqual([expect.objectContaining({ address: 'ada@example.com' })]);
  });
});
