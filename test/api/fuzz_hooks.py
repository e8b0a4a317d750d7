"""Schemathesis hooks of test/api/fuzz.test.ts: the credentials a generated request cannot guess.

- `POST /webhooks/stripe`: every generated body is signed with the test stack's webhook secret, as
  Stripe signs its events, so the fuzzer reaches the event's validation and routing rather than
  stopping at the signature check.
- `GET /api/checkouts/{id}` and its cancel: half of the generated requests are sent for a checkout
  the fuzzer itself started (remembered from the `202` answers), with that checkout's secret, so the
  buyer's view and the cancel of real checkouts are checked too. Only for a status request that does
  not ask for a long-poll over a second: a settled checkout never changes, and each such request
  would hold the run for its whole wait.
"""

import hashlib
import hmac
import json
import os
import time

import schemathesis

WEBHOOK_SECRET = os.environ["FUZZ_STRIPE_WEBHOOK_SECRET"]
CHECKOUT_SECRET_HEADER = "Checkout-Secret"
MAX_WAIT_MS = 1000

# checkoutId -> checkoutSecret of every checkout a generated POST /api/checkouts started.
started = {}


@schemathesis.hook("after_call").apply_to(method="POST", path="/api/checkouts")
def remember_checkout(context, case, response):
    if response.status_code != 202:
        return
    body = response.json()
    started[body["checkoutId"]] = body["checkoutSecret"]


def _short_wait(case):
    wait = (case.query or {}).get("waitForChangeMs")
    try:
        return wait is None or int(wait) <= MAX_WAIT_MS
    except (TypeError, ValueError):
        return True


@schemathesis.hook("before_call").apply_to(path_regex=r"^/api/checkouts/\{id\}")
def use_a_started_checkout(context, case, kwargs):
    if not started or not _short_wait(case):
        return
    # Deterministic per case, so a finding replays with the same choice.
    digest = hashlib.sha256(repr(case.path_parameters).encode()).digest()
    if digest[0] % 2:
        return
    ids = sorted(started)
    checkout_id = ids[digest[1] % len(ids)]
    case.path_parameters = {**(case.path_parameters or {}), "id": checkout_id}
    case.headers = {**(case.headers or {}), CHECKOUT_SECRET_HEADER: started[checkout_id]}


@schemathesis.hook("before_call").apply_to(method="POST", path="/webhooks/stripe")
def sign_webhook(context, case, kwargs):
    # The exact bytes sent: the signature covers them, so they are sent as these bytes.
    serialized = case.as_transport_kwargs()
    if "json" in serialized:
        payload = json.dumps(serialized["json"]).encode()
    else:
        payload = serialized.get("data") or b""
        if isinstance(payload, str):
            payload = payload.encode()
    if not isinstance(payload, bytes):
        return
    timestamp = str(int(time.time()))
    signature = hmac.new(WEBHOOK_SECRET.encode(), timestamp.encode() + b"." + payload, hashlib.sha256).hexdigest()
    kwargs["data"] = payload
    case.headers = {**(case.headers or {}), "Stripe-Signature": f"t={timestamp},v1={signature}"}
