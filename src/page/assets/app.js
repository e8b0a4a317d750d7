// The signed-in page the SSO redirect lands on: greets the buyer from GET /api/me (session cookie).
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
  }

  $('sign-out').addEventListener('click', async () => {
    await fetch('/api/sso/logout', { method: 'POST', credentials: 'same-origin' }).catch(() => undefined);
    window.location.assign('/');
  });

  init();
})();
