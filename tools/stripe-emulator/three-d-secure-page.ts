import { formatMinorUnits } from './money';
import type { PaymentIntentObject } from './store';

/**
 * The page a customer lands on from `next_action.redirect_to_url.url`: the emulator's stand-in for a
 * bank's 3-D Secure challenge. It says plainly that it is local and that no card is involved.
 */

const STYLE = `
  :root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: #f6f8fa; color: #1f2328; }
  main { width: min(420px, calc(100vw - 32px)); background: #fff; border: 1px solid #d0d7de; border-radius: 12px; padding: 28px; box-shadow: 0 1px 3px rgba(31,35,40,.08); }
  .badge { display: inline-block; font-size: 12px; font-weight: 600; letter-spacing: .02em; color: #57606a; background: #eaeef2; border-radius: 999px; padding: 2px 10px; }
  h1 { font-size: 20px; margin: 14px 0 6px; }
  p { margin: 6px 0; line-height: 1.5; color: #57606a; }
  dl { display: grid; grid-template-columns: auto 1fr; gap: 6px 16px; margin: 18px 0; font-size: 14px; }
  dt { color: #57606a; } dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
  .actions { display: grid; gap: 10px; margin-top: 22px; }
  button { width: 100%; font: inherit; font-weight: 600; padding: 11px 14px; border-radius: 8px; border: 1px solid transparent; cursor: pointer; }
  .succeed { background: #1f883d; color: #fff; } .succeed:hover { background: #1a7f37; }
  .fail { background: #fff; color: #cf222e; border-color: #d0d7de; } .fail:hover { background: #fff5f5; }
  .note { font-size: 12px; margin-top: 18px; }
`;

export function challengePage(intent: PaymentIntentObject): string {
  const waiting = intent.status === 'requires_action';
  const action = `/_emulator/payment_intents/${encodeURIComponent(intent.id)}/authenticate`;
  const body = waiting
    ? `<p>Your bank asks you to confirm this payment.</p>
      ${summary(intent)}
      <div class="actions">
        <form method="post" action="${escapeHtml(action)}"><input type="hidden" name="outcome" value="succeed"><button class="succeed" type="submit">Complete authentication</button></form>
        <form method="post" action="${escapeHtml(action)}"><input type="hidden" name="outcome" value="fail"><button class="fail" type="submit">Fail authentication</button></form>
      </div>`
    : `<p>This payment is not waiting for authentication (status: <strong>${escapeHtml(intent.status)}</strong>).</p>${summary(intent)}`;
  return page('3-D Secure authentication', body);
}

export function resultPage(intent: PaymentIntentObject): string {
  const succeeded = intent.status === 'succeeded';
  return page(
    succeeded ? 'Authentication complete' : 'Authentication failed',
    `<p>${succeeded ? 'The payment went through.' : 'The payment was not authorised.'} This payment had no return URL, so you can close this page.</p>${summary(intent)}`,
  );
}

export function errorPage(title: string, message: string): string {
  return page(title, `<p>${escapeHtml(message)}</p>`);
}

function summary(intent: PaymentIntentObject): string {
  return `<dl>
        <dt>Amount</dt><dd>${escapeHtml(formatMinorUnits(intent.amount, intent.currency))}</dd>
        ${intent.description ? `<dt>For</dt><dd>${escapeHtml(intent.description)}</dd>` : ''}
        <dt>Payment</dt><dd>${escapeHtml(intent.id)}</dd>
      </dl>`;
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="robots" content="noindex">
  <title>${escapeHtml(title)} · Local Stripe emulator</title>
  <style>${STYLE}</style>
</head>
<body>
  <main>
    <span class="badge">Local Stripe emulator · test mode</span>
    <h1>${escapeHtml(title)}</h1>
    ${body}
    <p class="note">This page is served by the project's local Stripe emulator. No bank and no real card are involved.</p>
  </main>
</body>
</html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
