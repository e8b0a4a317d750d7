// The signed-in page the SSO redirect lands on: greets the buyer from GET /api/me (session cookie)
// and lists their orders from GET /api/me/orders (the order-history read model).
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  async function init() {
    let res;
    try {
      res = await fetch('/api/me', { headers: { accept: 'application/json' }, credentials: 'same-origin' });
    } catch {
      $('welcome-status').textContent = 'We could not reach the shop. Reload the page to try again.';
      return;
    }
    $('welcome-status').hidden = true;
    if (!res.ok) {
      $('signed-out').hidden = false;
      return;
    }
    const { user } = await res.json();
    $('customer-name').textContent = user.name || user.email;
    $('customer-email').textContent = user.email;
    $('signed-in').hidden = false;
    $('sign-out').hidden = false;
    $('welcome-title').focus();
    loadOrders(0);
  }

  const STATUS_LABELS = {
    PENDING: ['In progress', ''],
    PAID: ['Paid', ''],
    CONFIRMED: ['Confirmed', 'ok'],
    PARTIALLY_REFUNDED: ['Partly refunded', 'warn'],
    REFUNDED: ['Refunded', 'warn'],
    FAILED: ['Not completed', 'bad'],
    CANCELLED: ['Cancelled', 'bad'],
    NEEDS_ATTENTION: ['Being looked at', 'warn'],
  };
  const IN_PROGRESS = new Set(['PENDING', 'PAID']);

  function money(minor, currency) {
    if (minor === null || minor === undefined || !currency) return '';
    try {
      const format = new Intl.NumberFormat(undefined, { style: 'currency', currency });
      return format.format(minor / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2));
    } catch {
      return `${minor} ${currency}`;
    }
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function renderOrder(order) {
    const item = el('li', 'order');
    item.dataset.orderId = order.orderId;
    const head = el('div', 'order-head');
    head.append(el('span', 'order-ref', `Order ${order.orderId.slice(0, 8).toUpperCase()}`));
    head.append(el('time', 'muted', new Date(order.placedAt).toLocaleString()));
    const [label, tone] = STATUS_LABELS[order.status] || [order.status, ''];
    const badge = el('span', `badge status-badge ${tone}`.trim(), label);
    badge.dataset.status = order.status;
    head.append(badge);
    item.append(head);

    const lines = el('ul', 'order-lines');
    for (const line of order.lines) {
      const row = el('li');
      row.append(el('span', '', `${line.quantity} × ${line.name || line.sku}`));
      row.append(el('span', '', money(line.lineTotal, order.currency)));
      lines.append(row);
    }
    item.append(lines);
    if (order.amount !== null) {
      const total = el('div', 'order-total');
      total.append(el('span', '', 'Total'), el('span', 'order-amount', money(order.amount, order.currency)));
      item.append(total);
    }
    if (order.refundedAmount > 0) item.append(el('p', 'order-note', `Refunded: ${money(order.refundedAmount, order.currency)}`));
    if (order.failure) item.append(el('p', 'order-note', order.failure.message));
    return item;
  }

  // The history is written by a consumer of the checkout's events, a moment after the checkout
  // ends: while the newest order is still in progress (or not there yet), ask again for a while.
  async function loadOrders(attempt) {
    $('orders').hidden = false;
    let orders;
    try {
      const res = await fetch('/api/me/orders', { headers: { accept: 'application/json' }, credentials: 'same-origin' });
      if (!res.ok) throw new Error(String(res.status));
      ({ orders } = await res.json());
    } catch {
      $('orders-status').textContent = 'We could not load your orders. Reload the page to try again.';
      return;
    }
    const list = $('order-list');
    list.replaceChildren(...orders.map(renderOrder));
    const settling = orders.length === 0 || IN_PROGRESS.has(orders[0].status);
    $('orders-status').textContent = orders.length === 0 ? (attempt < 15 ? 'Your order will appear here in a moment…' : 'No orders yet.') : '';
    $('orders-status').hidden = orders.length > 0;
    if (settling && attempt < 15) setTimeout(() => loadOrders(attempt + 1), 2000);
  }

  $('sign-out').addEventListener('click', async () => {
    await fetch('/api/sso/logout', { method: 'POST', credentials: 'same-origin' }).catch(() => undefined);
    window.location.assign('/');
  });

  init();
})();
