import type { CheckoutEvent } from '../kafka/consumer/decode';
import type { CheckoutEventType } from '../events/contract';
import { formatMoney } from '../money';

/**
 * The three emails a customer gets, as text and HTML. Everything comes from the event itself (the
 * contract makes every event self-contained), so a notification never waits on another service.
 */

export const NOTIFIED_EVENT_TYPES = ['order.confirmed', 'checkout.failed', 'payment.refunded'] as const satisfies readonly CheckoutEventType[];
export type NotificationKind = 'receipt' | 'failure-notice' | 'refund-confirmation';

export interface RenderedEmail {
  kind: NotificationKind;
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface RenderOptions {
  /** Where the shop is, for the link at the bottom of every email. */
  appUrl: string;
  locale?: string;
  /**
   * The single-use sign-in link of a checkout whose account already existed (order.confirmed with
   * `signInDelivery: 'email'`): the receipt to that account's address is the only place it goes.
   */
  signInLink?: (checkoutId: string) => string;
}

/** Short enough to say on the phone, long enough to be unambiguous within one customer's orders. */
export function orderReference(orderId: string): string {
  return orderId.slice(0, 8).toUpperCase();
}

export function renderNotification(event: CheckoutEvent, options: RenderOptions): RenderedEmail | undefined {
  switch (event.type) {
    case 'order.confirmed':
      return receipt(event as CheckoutEvent<'order.confirmed'>, options);
    case 'checkout.failed':
      return failureNotice(event as CheckoutEvent<'checkout.failed'>, options);
    case 'payment.refunded':
      return refundConfirmation(event as CheckoutEvent<'payment.refunded'>, options);
    default:
      return undefined;
  }
}

function receipt(event: CheckoutEvent<'order.confirmed'>, o: RenderOptions): RenderedEmail {
  const d = event.data;
  const money = (minor: number) => formatMoney(minor, d.currency, { display: 'symbol', locale: o.locale });
  const ref = orderReference(d.orderId);
  const greeting = d.customerName ? `Hello ${d.customerName},` : 'Hello,';
  const lines = d.lines.map((l) => ({ what: `${l.quantity} × ${l.name}`, each: money(l.unitPrice), total: money(l.lineTotal) }));
  const width = Math.max(...lines.map((l) => l.what.length), 'Total'.length) + 2;
  const signIn = d.signInDelivery === 'email' && o.signInLink ? o.signInLink(d.checkoutId) : undefined;
  const signInWords = {
    why: 'You already have an account with us, so the checkout page did not sign you in.',
    how: 'To see this order in your account, sign in with this link. It works once and for a limited time:',
    notYou: 'If you did not place this order, do not use the link; reply to this email and we will look into it.',
  };

  const text = [
    greeting,
    '',
    `Thank you for your order. We have received your payment of ${money(d.amount)} and your order ${ref} is confirmed.`,
    '',
    ...lines.map((l) => `  ${l.what.padEnd(width)}${l.total}${l.each !== l.total ? `  (${l.each} each)` : ''}`),
    `  ${'Total'.padEnd(width)}${money(d.amount)}`,
    '',
    `Order number: ${d.orderId}`,
    `Confirmed: ${formatDate(event.time, o.locale)}`,
    '',
    'Keep this email as your receipt.',
    '',
    ...(signIn ? [signInWords.why, signInWords.how, signIn, signInWords.notYou, ''] : []),
    footer(o),
  ].join('\n');

  const rows = lines
    .map((l) => `<tr><td style="padding:4px 12px 4px 0">${esc(l.what)}</td><td style="padding:4px 0;text-align:right">${esc(l.total)}</td></tr>`)
    .join('');
  const html = page(
    `Receipt for order ${ref}`,
    `<p>${esc(greeting)}</p>
<p>Thank you for your order. We have received your payment of <strong>${esc(money(d.amount))}</strong> and your order <strong>${esc(ref)}</strong> is confirmed.</p>
<table style="border-collapse:collapse;margin:12px 0">${rows}<tr><td style="padding:8px 12px 4px 0;border-top:1px solid #ccc"><strong>Total</strong></td><td style="padding:8px 0 4px;border-top:1px solid #ccc;text-align:right"><strong>${esc(money(d.amount))}</strong></td></tr></table>
<p style="color:#555">Order number: ${esc(d.orderId)}<br>Confirmed: ${esc(formatDate(event.time, o.locale))}</p>
<p>Keep this email as your receipt.</p>${
      signIn
        ? `
<p>${esc(signInWords.why)} ${esc(signInWords.how)}<br><a href="${esc(signIn)}">${esc(signIn)}</a></p>
<p style="color:#555">${esc(signInWords.notYou)}</p>`
        : ''
    }`,
    o,
  );
  return { kind: 'receipt', to: d.customerEmail, subject: `Your receipt for order ${ref} (${money(d.amount)})`, text, html };
}

/** What happened, in words a buyer understands; the code stays in our logs. */
function failureReason(code: string): string {
  switch (code) {
    case 'OUT_OF_STOCK':
      return 'Something in your cart sold out before we could set it aside for you.';
    case 'UNKNOWN_SKU':
    case 'INVALID_CART':
      return 'Something in your cart is no longer sold in our shop.';
    case 'PAYMENT_DECLINED':
      return 'Your bank declined the payment.';
    case 'PAYMENT_AUTHENTICATION_FAILED':
      return 'The security check with your bank (3-D Secure) did not succeed.';
    case 'PAYMENT_ACTION_TIMEOUT':
      return 'The payment was not completed in time.';
    case 'PAYMENT_FAILED':
      return 'The payment did not go through.';
    default:
      return 'A technical problem on our side stopped your order.';
  }
}

/** Failures that happen before any money can have moved. */
const NOTHING_CHARGED = new Set(['OUT_OF_STOCK', 'UNKNOWN_SKU', 'INVALID_CART', 'PAYMENT_DECLINED', 'PAYMENT_AUTHENTICATION_FAILED', 'PAYMENT_ACTION_TIMEOUT', 'PAYMENT_FAILED']);

function failureNotice(event: CheckoutEvent<'checkout.failed'>, o: RenderOptions): RenderedEmail {
  const d = event.data;
  const ref = orderReference(d.orderId);
  const money = NOTHING_CHARGED.has(d.code) || d.step === null || d.step === 'reserveStock'
    ? 'You have not been charged.'
    : 'If any money was taken from your card, it has been returned; depending on your bank it can take a few days to show.';
  const tryAgain = d.code === 'OUT_OF_STOCK' || d.code === 'UNKNOWN_SKU' || d.code === 'INVALID_CART'
    ? 'You are welcome to place the order again with what is still available.'
    : d.code.startsWith('PAYMENT_')
      ? 'You are welcome to try again, with the same card or another one.'
      : 'Please try again in a little while.';
  // The bank's own words help with a payment failure; a technical message would only confuse.
  const detail = d.code.startsWith('PAYMENT_') && d.message && d.message !== failureReason(d.code) ? d.message : undefined;

  const text = [
    'Hello,',
    '',
    `We are sorry: we could not complete your order ${ref}.`,
    '',
    failureReason(d.code),
    ...(detail ? [`(${detail})`] : []),
    money,
    '',
    tryAgain,
    '',
    footer(o),
  ].join('\n');
  const html = page(
    `We could not complete order ${ref}`,
    `<p>Hello,</p>
<p>We are sorry: we could not complete your order <strong>${esc(ref)}</strong>.</p>
<p>${esc(failureReason(d.code))}${detail ? `<br><span style="color:#555">(${esc(detail)})</span>` : ''}</p>
<p><strong>${esc(money)}</strong></p>
<p>${esc(tryAgain)}</p>`,
    o,
  );
  return { kind: 'failure-notice', to: d.customerEmail, subject: `We could not complete your order ${ref}`, text, html };
}

function refundConfirmation(event: CheckoutEvent<'payment.refunded'>, o: RenderOptions): RenderedEmail {
  const d = event.data;
  const money = (minor: number) => formatMoney(minor, d.currency, { display: 'symbol', locale: o.locale });
  const ref = orderReference(d.orderId);
  const full = d.totalRefunded >= d.orderAmount;
  const summary = full
    ? `Your order ${ref} has been refunded in full (${money(d.orderAmount)}).`
    : `So far ${money(d.totalRefunded)} of ${money(d.orderAmount)} has been refunded on order ${ref}.`;

  const text = [
    'Hello,',
    '',
    `We have refunded ${money(d.amount)} to the card you paid with.`,
    summary,
    ...(d.reason ? [`Reason: ${d.reason}`] : []),
    '',
    'Depending on your bank, it can take a few days for the money to show on your statement.',
    '',
    `Refund reference: ${d.refundId}`,
    `Order number: ${d.orderId}`,
    '',
    footer(o),
  ].join('\n');
  const html = page(
    `Refund for order ${ref}`,
    `<p>Hello,</p>
<p>We have refunded <strong>${esc(money(d.amount))}</strong> to the card you paid with.</p>
<p>${esc(summary)}</p>
${d.reason ? `<p>Reason: ${esc(d.reason)}</p>` : ''}
<p>Depending on your bank, it can take a few days for the money to show on your statement.</p>
<p style="color:#555">Refund reference: ${esc(d.refundId)}<br>Order number: ${esc(d.orderId)}</p>`,
    o,
  );
  return { kind: 'refund-confirmation', to: d.customerEmail, subject: `Refund of ${money(d.amount)} for order ${ref}`, text, html };
}

function footer(o: RenderOptions): string {
  return `Checkout Saga\n${o.appUrl}`;
}

function page(title: string, body: string, o: RenderOptions): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head>
<body style="font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;line-height:1.5;color:#1f2328;max-width:560px;margin:0 auto;padding:16px">
${body}
<p style="color:#555;font-size:0.9em;border-top:1px solid #eee;padding-top:8px">Checkout Saga · <a href="${esc(o.appUrl)}">${esc(o.appUrl)}</a></p>
</body></html>`;
}

function formatDate(iso: string, locale = 'en-US'): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' }).format(new Date(iso)) + ' UTC';
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
