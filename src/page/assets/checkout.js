// The checkout page: catalog, cart, Pay, then a live view of the saga until the buyer is signed in
// or told in plain words what went wrong. Plain browser JavaScript, no build step.
'use strict';

(() => {
  const STEPS = [
    { id: 'reserveStock', title: 'Reserve your items', undo: 'releaseStock' },
    { id: 'capturePayment', title: 'Take the payment', undo: 'refundPayment' },
    { id: 'createUser', title: 'Set up your account', undo: 'deleteUser' },
    { id: 'issueSsoToken', title: 'Prepare your sign-in link', undo: 'revokeSsoToken' },
    { id: 'confirmOrder', title: 'Confirm the order', undo: null },
  ];

  /** What each failure code means for the buyer; the server's message is only a fallback. */
  const FAILURES = {
    OUT_OF_STOCK: 'Sorry, one of your items sold out while you were checking out. Nothing was charged.',
    UNKNOWN_SKU: 'One of the products in your cart is no longer sold. Nothing was charged.',
    INVALID_CART: 'These items cannot be bought together in one order. Nothing was charged.',
    PAYMENT_DECLINED: 'Your card was declined. No money was taken; try another card.',
    PAYMENT_AUTHENTICATION_FAILED: 'Your bank could not confirm the payment (3-D Secure). No money was taken.',
    PAYMENT_ACTION_TIMEOUT: 'The payment was not confirmed in time, so we stopped it. No money was taken.',
    PAYMENT_FAILED: 'The payment did not go through. No money was taken.',
    CANCELLED: 'You cancelled this order. Anything reserved or paid has been returned.',
    STEP_FAILED: 'A technical problem on our side stopped your order. Any payment taken has been refunded.',
  };

  /** What an undo did, in the buyer's words; undefined when it had nothing to do. */
  function undoNote(compensation) {
    const outcome = compensation.outcome || '';
    switch (compensation.name) {
      case 'releaseStock':
        return outcome.startsWith('released') ? 'Items put back on the shelf' : undefined;
      case 'refundPayment':
        return outcome.startsWith('refunded') ? 'Payment refunded in full' : 'No money was taken';
      case 'deleteUser':
        return outcome === 'account removed' ? 'Account removed again' : undefined;
      case 'revokeSsoToken':
        return outcome === 'login token revoked' ? 'Sign-in link cancelled' : undefined;
      default:
        return undefined;
    }
  }

  const LOW_STOCK = 3;
  /** The API's cap per cart line; /api/config may lower it (MAX_UNITS_PER_SKU). */
  const MAX_LINE_QUANTITY = 100;
  const ACTIVE_KEY = 'checkout-saga.active-checkout';
  const CANCELLABLE = ['PENDING', 'PROCESSING', 'REQUIRES_ACTION'];
  const FINISHED = ['COMPLETED', 'FAILED', 'CANCELLED'];

  const $ = (id) => document.getElementById(id);
  const state = {
    products: [],
    cart: new Map(), // sku -> quantity
    payments: { mode: 'test-cards', testCards: [] },
    stripe: null,
    stripeElements: null,
    /** One Idempotency-Key per purchase attempt: a double click or a retried request starts one checkout. */
    attemptKey: null,
    submitting: false,
    checkoutId: null,
    /** The address this checkout was placed with, to say where a sign-in link went. */
    email: null,
    lastView: null,
    handledAction: null,
    /** The open status stream (Server-Sent Events), if the page follows by it. */
    events: null,
    maxUnitsPerSku: MAX_LINE_QUANTITY,
  };

  // ---------- Money ----------

  const formatters = new Map();
  function money(minor, currency) {
    const code = String(currency || 'EUR').toUpperCase();
    if (!formatters.has(code)) formatters.set(code, new Intl.NumberFormat(navigator.language || 'en', { style: 'currency', currency: code }));
    const format = formatters.get(code);
    return format.format(minor / 10 ** format.resolvedOptions().maximumFractionDigits);
  }

  // ---------- API ----------

  async function api(method, path, { body, headers = {} } = {}) {
    const response = await fetch(path, {
      method,
      headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      credentials: 'same-origin',
    });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    return { status: response.status, ok: response.ok, data, headers: response.headers };
  }

  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ---------- Catalog and cart ----------

  async function loadProducts() {
    const res = await api('GET', '/api/products').catch(() => null);
    if (!res || !res.ok) {
      $('catalog-status').textContent = 'The products could not be loaded. Reload the page to try again.';
      return;
    }
    state.products = res.data.products;
    $('catalog-status').textContent = state.products.length ? '' : 'Nothing for sale right now.';
    $('catalog-status').hidden = state.products.length > 0;
    // Stock may have changed since the cart was filled: never keep more than is left.
    for (const [sku, quantity] of state.cart) {
      const product = productOf(sku);
      if (!product || product.stockAvailable === 0) state.cart.delete(sku);
      else state.cart.set(sku, Math.min(quantity, product.stockAvailable));
    }
    renderProducts();
    renderCart();
  }

  const productOf = (sku) => state.products.find((p) => p.sku === sku);
  const cartCurrency = () => {
    const first = state.cart.keys().next();
    return first.done ? null : productOf(first.value)?.currency ?? null;
  };
  const cartTotal = () => [...state.cart].reduce((sum, [sku, q]) => sum + (productOf(sku)?.price ?? 0) * q, 0);
  const maxQuantity = (product) => Math.min(product.stockAvailable, MAX_LINE_QUANTITY, state.maxUnitsPerSku);

  function renderProducts() {
    const list = $('products');
    list.replaceChildren();
    const template = $('product-template');
    for (const product of state.products) {
      const item = template.content.firstElementChild.cloneNode(true);
      item.dataset.sku = product.sku;
      item.querySelector('.product-name').textContent = product.name;
      const description = item.querySelector('.product-description');
      description.textContent = product.description;
      description.hidden = !product.description;
      item.querySelector('.price').textContent = money(product.price, product.currency);
      const stock = item.querySelector('.stock');
      if (product.stockAvailable === 0) {
        stock.textContent = 'Sold out';
        stock.classList.add('out');
      } else if (product.stockAvailable <= LOW_STOCK) {
        stock.textContent = `Only ${product.stockAvailable} left`;
        stock.classList.add('low');
      } else {
        stock.textContent = `${product.stockAvailable} in stock`;
      }
      const add = item.querySelector('.add');
      const inCart = state.cart.get(product.sku) ?? 0;
      const otherCurrency = cartCurrency() && cartCurrency() !== product.currency;
      add.disabled = product.stockAvailable === 0 || inCart >= maxQuantity(product) || Boolean(otherCurrency);
      add.title = otherCurrency ? `Your cart is in ${cartCurrency()}; pay for it first.` : '';
      add.setAttribute('aria-label', `Add ${product.name} to cart`);
      add.addEventListener('click', () => changeQuantity(product.sku, inCart + 1));
      list.append(item);
    }
  }

  function renderCart() {
    const list = $('cart');
    list.replaceChildren();
    const template = $('cart-line-template');
    for (const [sku, quantity] of state.cart) {
      const product = productOf(sku);
      if (!product) continue;
      const line = template.content.firstElementChild.cloneNode(true);
      line.dataset.sku = sku;
      line.querySelector('.line-name').textContent = product.name;
      const input = line.querySelector('.qty-input');
      input.value = String(quantity);
      input.max = String(maxQuantity(product));
      input.setAttribute('aria-label', `Quantity of ${product.name}`);
      input.addEventListener('change', () => changeQuantity(sku, Number.parseInt(input.value, 10) || 0));
      const dec = line.querySelector('.dec');
      dec.setAttribute('aria-label', `One less ${product.name}`);
      dec.addEventListener('click', () => changeQuantity(sku, quantity - 1));
      const inc = line.querySelector('.inc');
      inc.setAttribute('aria-label', `One more ${product.name}`);
      inc.disabled = quantity >= maxQuantity(product);
      inc.addEventListener('click', () => changeQuantity(sku, quantity + 1));
      line.querySelector('.line-total').textContent = money(product.price * quantity, product.currency);
      const remove = line.querySelector('.remove');
      remove.setAttribute('aria-label', `Remove ${product.name}`);
      remove.addEventListener('click', () => changeQuantity(sku, 0));
      list.append(line);
    }
    const empty = state.cart.size === 0;
    $('cart-empty').hidden = !empty;
    $('cart-total').hidden = empty;
    const currency = cartCurrency();
    $('cart-total-amount').textContent = empty ? '' : money(cartTotal(), currency);
    $('pay-button').textContent = empty ? 'Pay' : `Pay ${money(cartTotal(), currency)}`;
    $('pay-button').disabled = empty || state.submitting;
    updateStripeAmount();
  }

  function changeQuantity(sku, quantity) {
    const product = productOf(sku);
    if (!product) return;
    const clamped = Math.max(0, Math.min(Math.floor(quantity), maxQuantity(product)));
    if (clamped === 0) state.cart.delete(sku);
    else state.cart.set(sku, clamped);
    newAttempt();
    renderProducts();
    renderCart();
  }

  /** Anything the buyer changes makes the next Pay a new purchase, with a new key. */
  function newAttempt() {
    state.attemptKey = null;
  }

  // ---------- Payment methods ----------

  async function loadPaymentConfig() {
    const res = await api('GET', '/api/config').catch(() => null);
    if (res && res.ok) {
      state.payments = res.data.payments;
      if (res.data.limits && res.data.limits.maxUnitsPerSku) state.maxUnitsPerSku = res.data.limits.maxUnitsPerSku;
    }
    if (state.payments.mode === 'stripe') return setUpStripe();
    $('test-mode-badge').hidden = false;
    $('test-cards').hidden = false;
    const options = $('card-options');
    options.replaceChildren();
    state.payments.testCards.forEach((card, index) => {
      const label = document.createElement('label');
      label.className = 'card-option';
      const input = document.createElement('input');
      input.type = 'radio';
      input.name = 'paymentMethodId';
      input.value = card.id;
      input.checked = index === 0;
      input.addEventListener('change', newAttempt);
      const text = document.createElement('span');
      text.textContent = card.label;
      const code = document.createElement('code');
      code.textContent = card.id;
      label.append(input, text, code);
      options.append(label);
    });
  }

  /** With a real publishable key: Stripe's Payment Element collects the card and creates the PaymentMethod. */
  async function setUpStripe() {
    $('stripe-payment').hidden = false;
    await new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = 'https://js.stripe.com/v3/';
      script.onload = resolve;
      script.onerror = () => reject(new Error('Stripe.js did not load'));
      document.head.append(script);
    }).catch(() => {
      showFormError('The payment form could not be loaded. Check your connection and reload the page.');
    });
    if (!window.Stripe) return;
    state.stripe = window.Stripe(state.payments.publishableKey);
    updateStripeAmount();
  }

  function updateStripeAmount() {
    if (!state.stripe || state.cart.size === 0) return;
    const options = { mode: 'payment', amount: cartTotal(), currency: cartCurrency().toLowerCase(), paymentMethodCreation: 'manual' };
    if (state.stripeElements) {
      state.stripeElements.update(options);
      return;
    }
    state.stripeElements = state.stripe.elements(options);
    state.stripeElements.create('payment').mount('#payment-element');
  }

  async function paymentMethodId() {
    if (state.payments.mode !== 'stripe') {
      const checked = document.querySelector('input[name="paymentMethodId"]:checked');
      return checked ? checked.value : null;
    }
    const submitted = await state.stripeElements.submit();
    if (submitted.error) throw new Error(submitted.error.message);
    const created = await state.stripe.createPaymentMethod({ elements: state.stripeElements });
    if (created.error) throw new Error(created.error.message);
    return created.paymentMethod.id;
  }

  // ---------- Pay ----------

  function showFormError(message) {
    $('form-error').textContent = message;
    $('form-error').hidden = !message;
  }

  function setFieldError(field, message) {
    const input = $(field);
    const error = $(`${field}-error`);
    if (!input || !error) return false;
    input.setAttribute('aria-invalid', message ? 'true' : 'false');
    error.textContent = message || '';
    error.hidden = !message;
    return true;
  }

  function clearErrors() {
    setFieldError('email', '');
    setFieldError('name', '');
    showFormError('');
  }

  async function pay(event) {
    event.preventDefault();
    if (state.submitting) return;
    clearErrors();
    const email = $('email').value.trim();
    if (!email || !$('email').checkValidity()) {
      setFieldError('email', 'Enter the email address we should send the receipt to.');
      $('email').focus();
      return;
    }
    if (state.cart.size === 0) return showFormError('Add something to your cart first.');

    state.submitting = true;
    $('pay-button').disabled = true;
    $('pay-button').textContent = 'Starting your order…';
    try {
      const methodId = await paymentMethodId();
      if (!methodId) throw new Error('Choose how to pay.');
      state.attemptKey ??= newKey();
      const name = $('name').value.trim();
      const body = {
        customer: { email, ...(name ? { name } : {}) },
        items: [...state.cart].map(([sku, quantity]) => ({ sku, quantity })),
        paymentMethodId: methodId,
      };
      // The answer sets this checkout's secret as an HttpOnly cookie: the browser sends it with
      // every status and cancel request of this checkout, and this script never sees it.
      const res = await api('POST', '/api/checkouts', { body, headers: { 'Idempotency-Key': state.attemptKey } });
      if (res.status === 202) {
        state.email = email;
        startFollowing(res.data.checkoutId);
        return;
      }
      handleStartProblem(res);
    } catch (err) {
      // A network error leaves the key as it is: pressing Pay again re-sends the same attempt.
      showFormError(err instanceof TypeError ? 'We could not reach the shop. Check your connection and press Pay again.' : err.message);
    } finally {
      state.submitting = false;
      renderCart();
    }
  }

  function handleStartProblem(res) {
    const problem = res.data || {};
    if (res.status === 400 && Array.isArray(problem.errors)) {
      let shown = false;
      for (const { field, message } of problem.errors) {
        if (field === 'customer.email') shown = setFieldError('email', `Email ${message}.`) || shown;
        else if (field === 'customer.name') shown = setFieldError('name', `Name ${message}.`) || shown;
      }
      if (!shown) showFormError(problem.detail || 'Some details are not valid.');
      newAttempt();
      return;
    }
    if (res.status === 422 && problem.skus) {
      showFormError('Some items are no longer sold and were removed from your cart. Check it and pay again.');
      for (const sku of problem.skus) state.cart.delete(sku);
      newAttempt();
      loadProducts();
      return;
    }
    if (res.status === 503) {
      showFormError('The shop is busy right now. Nothing was charged; please press Pay again in a few seconds.');
      return;
    }
    if (res.status === 429 && problem.type === 'urn:checkout-saga:problem:too-many-checkouts-in-progress') {
      showFormError('You already have several orders waiting to be finished (a bank check, for example). Finish or cancel one of them, then press Pay again. Nothing was charged.');
      return;
    }
    if (res.status === 429) {
      const wait = Number(res.headers.get('retry-after')) || 60;
      showFormError(`Too many attempts from your connection. Nothing was charged; please press Pay again in ${wait} seconds.`);
      return;
    }
    newAttempt();
    showFormError(problem.detail || 'Something went wrong. Please try again.');
  }

  // ---------- Live view ----------

  function showProgressView(visible) {
    $('shop-view').hidden = visible;
    $('checkout-view').hidden = visible;
    $('progress-view').hidden = !visible;
    $('main').classList.toggle('running', visible);
  }

  function startFollowing(checkoutId) {
    state.checkoutId = checkoutId;
    state.lastView = null;
    state.handledAction = null;
    sessionStorage.setItem(ACTIVE_KEY, checkoutId);
    resetProgress();
    showProgressView(true);
    $('progress-title').focus();
    follow(checkoutId);
  }

  function resetProgress() {
    $('progress-title').textContent = 'Placing your order…';
    $('progress-summary').textContent = '';
    $('failure').hidden = true;
    $('success').hidden = true;
    $('challenge').hidden = true;
    $('challenge-frame').removeAttribute('src');
    $('retry-button').hidden = true;
    $('continue-link').hidden = true;
    $('cancel-button').hidden = true;
    $('progress-ref').textContent = '';
    renderSteps(null);
  }

  /**
   * Follows the checkout by its event stream: every change is pushed as it happens, and after a
   * network blip the browser reconnects by itself with the last event's id, so nothing is missed.
   * A stream that fails before its first event (an old proxy, a browser without EventSource) hands
   * over to the long-poll, which reaches the same answers.
   */
  function follow(checkoutId) {
    if (typeof window.EventSource !== 'function') {
      poll(checkoutId);
      return;
    }
    const source = new EventSource(`/api/checkouts/${encodeURIComponent(checkoutId)}/events`);
    state.events = source;
    let received = false;
    source.onmessage = (message) => {
      if (state.checkoutId !== checkoutId) return closeEvents(source);
      received = true;
      const view = JSON.parse(message.data);
      render(view);
      if (FINISHED.includes(view.status)) closeEvents(source);
    };
    source.onerror = () => {
      if (state.checkoutId !== checkoutId) return closeEvents(source);
      if (!received || source.readyState === EventSource.CLOSED) {
        closeEvents(source);
        poll(checkoutId);
        return;
      }
      $('progress-summary').textContent = 'Reconnecting… your order keeps going on our side.';
    };
  }

  function closeEvents(source) {
    source.close();
    if (state.events === source) state.events = null;
  }

  /** Long-polls the status until the saga is finished; network blips back off and try again. */
  async function poll(checkoutId) {
    let failures = 0;
    while (state.checkoutId === checkoutId) {
      const since = state.lastView && state.lastView.version !== undefined ? `&sinceVersion=${state.lastView.version}` : '';
      let res;
      try {
        res = await api('GET', `/api/checkouts/${encodeURIComponent(checkoutId)}?waitForChangeMs=25000${since}`);
      } catch {
        res = null;
      }
      if (state.checkoutId !== checkoutId) return;
      if (res && res.status === 404) {
        sessionStorage.removeItem(ACTIVE_KEY);
        stopFollowing();
        return;
      }
      if (!res || !res.ok) {
        failures += 1;
        $('progress-summary').textContent = 'Reconnecting… your order keeps going on our side.';
        await sleep(Math.min(500 * 2 ** failures, 8000));
        continue;
      }
      failures = 0;
      render(res.data);
      if (FINISHED.includes(res.data.status)) return;
    }
  }

  function stopFollowing() {
    state.checkoutId = null;
    if (state.events) closeEvents(state.events);
    showProgressView(false);
  }

  function render(view) {
    const previous = state.lastView;
    state.lastView = view;
    renderSteps(view);
    $('progress-ref').textContent = `Order reference ${view.orderId}`;
    $('progress-summary').textContent = view.amount != null ? `Total ${money(view.amount, view.currency)}` : '';
    $('cancel-button').hidden = !CANCELLABLE.includes(view.status);
    renderChallenge(view);

    const headline = headlineOf(view);
    $('progress-title').textContent = headline;
    if (!previous || previous.status !== view.status) $('progress-live').textContent = headline;

    if (view.status === 'COMPLETED') return renderSuccess(view);
    if (view.status === 'FAILED' || view.status === 'CANCELLED' || view.status === 'NEEDS_ATTENTION') return renderFailure(view);
  }

  function headlineOf(view) {
    switch (view.status) {
      case 'PENDING':
      case 'PROCESSING':
        return 'Placing your order…';
      case 'REQUIRES_ACTION':
        return 'Waiting for your bank';
      case 'COMPENSATING':
        return 'Undoing your order…';
      case 'COMPLETED':
        return 'Thank you, your order is confirmed';
      case 'CANCELLED':
        return 'Order cancelled';
      case 'NEEDS_ATTENTION':
        return 'We are sorting out a problem with your order';
      default:
        return 'Your order did not go through';
    }
  }

  function renderSteps(view) {
    const list = $('steps');
    list.replaceChildren();
    const current = view ? STEPS.findIndex((s) => s.id === view.step) : -1;
    const undoing = view && ['COMPENSATING', 'FAILED', 'CANCELLED', 'NEEDS_ATTENTION'].includes(view.status);
    STEPS.forEach((step, index) => {
      const { state: stepState, note } = stepStateOf(view, step, index, current, undoing);
      const item = document.createElement('li');
      item.className = 'step';
      item.dataset.step = step.id;
      item.dataset.state = stepState;
      const icon = document.createElement('span');
      icon.className = 'step-icon';
      icon.setAttribute('aria-hidden', 'true');
      icon.textContent = { done: '✓', failed: '✕', undone: '↺', undoing: '↺', waiting: '!' }[stepState] || (stepState === 'active' ? '' : String(index + 1));
      const title = document.createElement('span');
      title.className = 'step-title';
      title.textContent = step.title;
      const status = document.createElement('span');
      status.className = 'visually-hidden';
      status.textContent = ` (${stepState})`;
      title.append(status);
      item.append(icon, title);
      if (note) {
        const p = document.createElement('p');
        p.className = 'step-note';
        p.textContent = note;
        item.append(p);
      }
      list.append(item);
    });
  }

  function stepStateOf(view, step, index, current, undoing) {
    if (!view) return { state: index === 0 ? 'active' : 'pending' };
    if (view.status === 'COMPLETED') return { state: 'done' };
    if (!undoing) {
      if (current === -1) return { state: index === 0 ? 'active' : 'pending' };
      if (index < current) return { state: 'done' };
      if (index > current) return { state: 'pending' };
      return view.status === 'REQUIRES_ACTION' ? { state: 'waiting', note: 'Confirm the payment with your bank below.' } : { state: 'active' };
    }
    const compensation = step.undo ? view.compensations.find((c) => c.name === step.undo) : undefined;
    const note = compensation && compensation.status === 'done' ? undoNote(compensation) : undefined;
    if (index === current) return { state: 'failed', note };
    if (index > current || current === -1) return { state: 'skipped' };
    if (!compensation) return { state: 'done' };
    if (compensation.status === 'done') return { state: 'undone', note };
    if (compensation.status === 'failed') return { state: 'undoing', note: 'Still being undone; we keep trying.' };
    return { state: 'undoing', note: 'Being undone…' };
  }

  /** The emulator's (or bank's) challenge, framed in the page; the page keeps polling meanwhile. */
  function renderChallenge(view) {
    const url = view.status === 'REQUIRES_ACTION' ? view.payment.nextActionUrl : undefined;
    if (view.status === 'REQUIRES_ACTION' && state.stripe && view.payment.clientSecret) {
      if (state.handledAction !== view.checkoutId) {
        state.handledAction = view.checkoutId;
        state.stripe.handleNextAction({ clientSecret: view.payment.clientSecret });
      }
      return;
    }
    if (!url) {
      $('challenge').hidden = true;
      if ($('challenge-frame').hasAttribute('src')) $('challenge-frame').removeAttribute('src');
      return;
    }
    $('challenge').hidden = false;
    if ($('challenge-frame').getAttribute('src') !== url) $('challenge-frame').setAttribute('src', url);
    $('challenge-link').href = url;
  }

  function renderSuccess(view) {
    sessionStorage.removeItem(ACTIVE_KEY);
    $('success').hidden = false;
    $('cancel-button').hidden = true;
    state.cart.clear();
    if (view.sso && view.sso.redirectUrl) {
      $('success-message').textContent = 'Signing you in to your account…';
      // A moment to see every step ticked before the page changes.
      setTimeout(() => window.location.assign(view.sso.redirectUrl), 900);
      return;
    }
    if (view.sso && view.sso.delivery === 'email') {
      // The account existed before this order: only its owner, through their inbox, may sign in to it.
      const where = state.email ? `with ${state.email}` : 'with this email address';
      $('success-message').textContent = `You already have an account ${where}, so we have emailed a sign-in link to that address instead of signing you in here. Open it to see this order in your account.`;
      return;
    }
    $('success-message').textContent = 'Your sign-in link was already used. The confirmation email has your order details.';
    $('continue-link').hidden = false;
  }

  function renderFailure(view) {
    const code = view.failure ? view.failure.code : undefined;
    $('failure').hidden = false;
    $('failure-title').textContent = view.status === 'NEEDS_ATTENTION' ? 'We are on it' : 'What happened';
    $('failure-message').textContent =
      view.status === 'NEEDS_ATTENTION'
        ? 'Something went wrong and undoing it did not finish yet. Our team has been alerted and will put it right; you do not need to do anything.'
        : FAILURES[code] || (view.failure && view.failure.message) || 'Something went wrong.';
    // Only undos that changed something; "no money was taken" is already in the message.
    const undone = view.compensations
      .filter((c) => c.status === 'done' && c.name !== 'refundPayment')
      .concat(view.compensations.filter((c) => c.status === 'done' && c.name === 'refundPayment' && (c.outcome || '').startsWith('refunded')))
      .map(undoNote)
      .filter(Boolean);
    $('failure-undo').textContent = undone.length ? `Undone for you: ${undone.join(', ').toLowerCase()}.` : '';
    if (FINISHED.includes(view.status)) {
      sessionStorage.removeItem(ACTIVE_KEY);
      $('retry-button').hidden = false;
    }
  }

  async function cancel() {
    const checkoutId = state.checkoutId;
    if (!checkoutId) return;
    $('cancel-button').disabled = true;
    const res = await api('POST', `/api/checkouts/${encodeURIComponent(checkoutId)}/cancel`, { body: { reason: 'Cancelled by the customer on the checkout page' } }).catch(() => null);
    $('cancel-button').disabled = false;
    if (res && res.status === 409) $('progress-live').textContent = 'It is too late to cancel this order.';
    else if (!res || !res.ok) $('progress-live').textContent = 'The order could not be cancelled right now. Please try again.';
  }

  function tryAgain() {
    state.checkoutId = null;
    if (state.events) closeEvents(state.events);
    newAttempt();
    showProgressView(false);
    loadProducts();
    $('pay-button').focus();
  }

  // ---------- Start ----------

  /**
   * Inside the 3-D Secure frame, the bank's redirect lands on this page again: say so briefly and
   * let the page outside (which is polling) carry on, instead of nesting a second shop in the frame.
   */
  function handleFramedReturn() {
    if (window.top === window.self) return false;
    const params = new URLSearchParams(window.location.search);
    if (!params.get('checkout')) return false;
    document.body.replaceChildren();
    const note = document.createElement('main');
    note.className = 'layout single';
    const panel = document.createElement('section');
    panel.className = 'panel';
    const h = document.createElement('h1');
    h.textContent = params.get('redirect_status') === 'succeeded' ? 'Payment confirmed' : 'Verification finished';
    const p = document.createElement('p');
    p.className = 'muted';
    p.textContent = 'Your order continues on the page around this box.';
    panel.append(h, p);
    note.append(panel);
    document.body.append(note);
    return true;
  }

  async function init() {
    if (handleFramedReturn()) return;
    $('checkout-form').addEventListener('submit', pay);
    $('email').addEventListener('input', () => {
      newAttempt();
      setFieldError('email', '');
    });
    $('name').addEventListener('input', newAttempt);
    $('retry-button').addEventListener('click', tryAgain);
    $('cancel-button').addEventListener('click', cancel);

    // Back from a full-page 3-D Secure redirect, or a reload mid-checkout: pick the checkout up again.
    const params = new URLSearchParams(window.location.search);
    const resume = params.get('checkout') || sessionStorage.getItem(ACTIVE_KEY);
    if (params.has('checkout')) window.history.replaceState(null, '', window.location.pathname);

    await Promise.all([loadPaymentConfig(), loadProducts()]);
    if (resume && /^[0-9a-f-]{36}$/i.test(resume)) startFollowing(resume);
  }

  init();
})();
