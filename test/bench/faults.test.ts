import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { startBalancer, type Balancer } from '../../tools/bench/faults/balancer';
import { differingFields, gatherFacts } from '../../tools/bench/faults/facts';
import { temporalDataConverter } from '../../src/temporal/data-converter';
import type { SoakProduct } from '../../tools/bench/faults/fault-stack';
import {
  checkInvariants,
  confirmedOrdersArePaid,
  everyAcceptedCheckoutEnded,
  everyUnitAccountedFor,
  noChargeWithoutOrderOrRefund,
  noDoubleCharge,
  noOversell,
  orderConfirmedOncePerId,
  rowAgreesWithSaga,
  type CheckoutFacts,
  type SoakFacts,
} from '../../tools/bench/faults/invariants';
import { readWholeTopic } from '../../tools/bench/faults/kafka-topic';
import { observe } from '../../tools/bench/faults/report';
import { freezeTree, processState, processTree } from '../../tools/bench/faults/process-tree';
import { createRandom } from '../../tools/bench/faults/random';
import { CARDS, COMBINATIONS, COVERAGE_EVERY, DEFAULT_MIX, newJourney, newStats, planShopper, shop, type Journey, type ShopContext } from '../../tools/bench/faults/shopper';
import { createHttpClient } from '../../tools/bench/http-client';
import { startTestApi, type TestApi } from '../api/support';

/**
 * The fault soak's building blocks (`npm run faults` itself never runs in `npm test`): its rules
 * over hand-made histories, the freezing of a real process tree, the load balancer in front of the
 * API instances, and the gathering of facts from the test stack's own records.
 */

const SKU = 'SOAK-T-1';

function completed(id: string, overrides: Partial<CheckoutFacts> = {}): CheckoutFacts {
  return {
    checkoutId: id,
    orderId: `order-${id}`,
    row: { status: 'COMPLETED', failureCode: null, createdAt: '2026-11-30T10:00:00.000Z', updatedAt: '2026-11-30T10:00:02.000Z' },
    order: { status: 'CONFIRMED', amountMinor: 1500, currency: 'EUR', refundedMinor: 0 },
    reservation: { status: 'CONSUMED' },
    lines: [{ sku: SKU, quantity: 1 }],
    saga: { execution: 'COMPLETED', checkoutStatus: 'COMPLETED' },
    intents: [{ id: `pi_${id}`, status: 'succeeded', amount: 1500, currency: 'eur', succeededCharges: 1, captured: 1500, refunded: 0 }],
    orderConfirmed: [{ id: `checkout-${id}:order.confirmed`, copies: 1, distinctValues: 1, differingFields: [] }],
    unroutedWebhooks: [],
    ...overrides,
  };
}

function cancelledAndRefunded(id: string, overrides: Partial<CheckoutFacts> = {}): CheckoutFacts {
  return completed(id, {
    row: { status: 'CANCELLED', failureCode: 'CANCELLED', createdAt: '2026-11-30T10:00:00.000Z', updatedAt: '2026-11-30T10:00:03.000Z' },
    order: { status: 'CANCELLED', amountMinor: 1500, currency: 'EUR', refundedMinor: 0 },
    reservation: { status: 'RELEASED' },
    saga: { execution: 'COMPLETED', checkoutStatus: 'CANCELLED' },
    intents: [{ id: `pi_${id}`, status: 'succeeded', amount: 1500, currency: 'eur', succeededCharges: 1, captured: 1500, refunded: 1500 }],
    orderConfirmed: [],
    ...overrides,
  });
}

/** A history in which everything holds: one sold unit, one returned after a refund, stock 10. */
function cleanHistory(): SoakFacts {
  return {
    checkouts: [completed('a'), cancelledAndRefunded('b')],
    products: [{ sku: SKU, initialStock: 10, available: 9 }],
  };
}

const offendersOf = (result: { offenders: Array<{ subject: string; detail: string }> }) => result.offenders.map((o) => o.subject);

describe('fault soak invariants', () => {
  it('a history where every checkout ended well passes every rule', () => {
    expect(checkInvariants(cleanHistory()).filter((r) => !r.passed)).toEqual([]);
  });

  it('two succeeded charges for one checkout are a double charge, on one intent or on two', () => {
    const facts = cleanHistory();
    facts.checkouts[0]!.intents[0]!.succeededCharges = 2;
    facts.checkouts[1]!.intents.push({ id: 'pi_b2', status: 'succeeded', amount: 1500, currency: 'eur', succeededCharges: 1, captured: 1500, refunded: 0 });
    expect(offendersOf(noDoubleCharge(facts))).toEqual(['a', 'b']);
  });

  it('money kept for an order that is not confirmed is flagged; a full refund clears it', () => {
    const facts = cleanHistory();
    facts.checkouts[1]!.intents[0]!.refunded = 500;
    const result = noChargeWithoutOrderOrRefund(facts);
    expect(offendersOf(result)).toEqual(['b']);
    expect(result.offenders[0]!.detail).toBe('captured 1500 EUR, refunded 500; order CANCELLED, checkout CANCELLED');
    facts.checkouts[1]!.intents[0]!.refunded = 1500;
    expect(noChargeWithoutOrderOrRefund(facts).passed).toBe(true);
  });

  it('a confirmed order whose money Stripe does not hold is flagged', () => {
    const facts = cleanHistory();
    facts.checkouts[0]!.intents = [];
    expect(offendersOf(confirmedOrdersArePaid(facts))).toEqual(['a']);
  });

  it('more units sold than the stock had is an oversell', () => {
    const facts = cleanHistory();
    facts.products[0]!.initialStock = 1;
    facts.products[0]!.available = 0;
    facts.checkouts[1]!.reservation = { status: 'CONSUMED' };
    const result = noOversell(facts);
    expect(result.offenders).toEqual([{ subject: SKU, detail: 'sold 2 of an initial stock of 1' }]);
  });

  it('units that vanish, and a cancelled checkout that kept its reservation, are not accounted for', () => {
    const facts = cleanHistory();
    facts.products[0]!.available = 7;
    facts.checkouts[1]!.reservation = { status: 'CONSUMED' };
    expect(everyUnitAccountedFor(facts).offenders).toEqual([
      { subject: SKU, detail: 'initial 10 != available 7 + sold 2 + reserved 0' },
      { subject: 'b', detail: 'checkout CANCELLED but its reservation is CONSUMED' },
    ]);
  });

  it('NEEDS_ATTENTION, a saga still running and an accepted checkout without a saga are not ended; one cancelled before its saga started is', () => {
    const facts = cleanHistory();
    facts.checkouts[0]!.saga = { execution: 'RUNNING', checkoutStatus: 'NEEDS_ATTENTION' };
    facts.checkouts[1]!.saga = { execution: 'RUNNING', checkoutStatus: 'COMPENSATING' };
    const journey = { checkoutId: 'c' } as Journey;
    facts.checkouts.push(completed('c', { saga: undefined, row: { ...completed('c').row, status: 'PENDING' }, journey }));
    facts.checkouts.push(completed('d', { saga: undefined, row: { ...completed('d').row, status: 'CANCELLED' }, journey: { checkoutId: 'd' } as Journey }));
    expect(everyAcceptedCheckoutEnded(facts).offenders).toEqual([
      { subject: 'a', detail: 'still NEEDS_ATTENTION (saga running)' },
      { subject: 'b', detail: 'still COMPENSATING (saga running)' },
      { subject: 'c', detail: 'no saga (row PENDING)' },
    ]);
  });

  it("a PostgreSQL row that does not show the saga's end is flagged", () => {
    const facts = cleanHistory();
    facts.checkouts[1]!.row.status = 'COMPENSATING';
    expect(rowAgreesWithSaga(facts).offenders).toEqual([{ subject: 'b', detail: 'saga CANCELLED, PostgreSQL row COMPENSATING' }]);
  });

  it('order.confirmed: missing for a completed checkout, present for a cancelled one, or two different events under one id', () => {
    const facts = cleanHistory();
    facts.checkouts[0]!.orderConfirmed = [];
    facts.checkouts[1]!.orderConfirmed = [{ id: 'checkout-b:order.confirmed', copies: 1, distinctValues: 1, differingFields: [] }];
    facts.checkouts.push(completed('c', { orderConfirmed: [{ id: 'checkout-c:order.confirmed', copies: 2, distinctValues: 2, differingFields: ['time'] }] }));
    facts.checkouts.push(completed('d', { orderConfirmed: [{ id: 'checkout-d:order.confirmed', copies: 3, distinctValues: 1, differingFields: [] }] }));
    expect(orderConfirmedOncePerId(facts).offenders).toEqual([
      { subject: 'a', detail: 'completed, but no order.confirmed on the topic' },
      { subject: 'b', detail: 'order.confirmed on the topic, but the checkout is CANCELLED' },
      { subject: 'c', detail: '2 records share the id checkout-c:order.confirmed and differ in time' },
    ]);
  });

  it('names the fields in which copies of one event differ', () => {
    const event = (time: string, sequence: number) => JSON.stringify({ id: 'x', type: 'order.confirmed', time, data: { orderId: 'o', sequence } });
    expect(differingFields([event('t1', 5), event('t1', 5)])).toEqual([]);
    expect(differingFields([event('t1', 5), event('t2', 5)])).toEqual(['time']);
    expect(differingFields([event('t1', 5), event('t2', 6), event('t1', 5)])).toEqual(['data.sequence', 'time']);
  });
});

describe('fault soak observations', () => {
  it('lists what is not an invariant but an operator wants to know: half-routed webhooks, accepted cancels that did not cancel, re-sent events', () => {
    const facts = cleanHistory();
    const cancelled = { checkoutId: 'a', email: 'x@example.com', plan: { card: 'visa', cancel: 'soon' }, cancel: { at: '', answer: 202 } } as unknown as Journey;
    facts.checkouts[0]!.journey = cancelled;
    const cancelledForReal = { checkoutId: 'b', email: 'y@example.com', plan: { card: 'visa', cancel: 'at-once' }, cancel: { at: '', answer: 202 } } as unknown as Journey;
    facts.checkouts[1]!.journey = cancelledForReal;
    facts.checkouts[1]!.unroutedWebhooks = [{ id: 'evt_1', type: 'payment_intent.succeeded', outcome: 'processing' }];
    facts.checkouts[0]!.orderConfirmed[0]!.copies = 2;
    const seen = observe(facts.checkouts, [cancelled, cancelledForReal], { unexpectedExits: [], balancer: { requests: 0, failures: {}, failovers: 0 }, kafka: { recordsRead: 0, unparseable: 0 }, postAnswers: {} });
    expect(seen.acceptedCancelsNotCancelled).toEqual([{ checkoutId: 'a', ended: 'COMPLETED', failureCode: null }]);
    expect(seen.unroutedWebhooks).toEqual([{ checkoutId: 'b', events: ['payment_intent.succeeded evt_1 (processing)'], checkoutEnded: 'CANCELLED' }]);
    expect(seen.resentOrderConfirmed).toEqual([{ checkoutId: 'a', copies: 2, identical: true }]);
    expect(seen.outcomes).toEqual({ 'visa + cancel soon': { COMPLETED: 1 }, 'visa + cancel at-once': { CANCELLED: 1 } });
    expect(seen.cancelAnswers).toEqual({ 202: 2 });
  });
});

describe('fault soak customers', () => {
  const catalog: SoakProduct[] = [
    { sku: 'N-1', priceMinor: 1500, initialStock: 1e9, lowStock: false },
    { sku: 'L-1', priceMinor: 4900, initialStock: 5, lowStock: true },
  ];

  it('the mix draws every card and every way of cancelling, and the same seed draws the same customers', () => {
    const draw = (seed: number) => {
      const random = createRandom(seed);
      return Array.from({ length: 2_000 }, (_, i) => planShopper(random, catalog, DEFAULT_MIX, i + 1));
    };
    const plans = draw(7);
    expect(new Set(plans.map((p) => p.card))).toEqual(new Set(CARDS.map((c) => c.kind)));
    expect(new Set(plans.map((p) => p.cancel))).toEqual(new Set(['none', 'at-once', 'soon', 'during-payment']));
    expect(plans.some((p) => p.sku === 'L-1')).toBe(true);
    // Cancelling "during the payment" only makes sense while a challenge or a bank settlement is open.
    expect(plans.filter((p) => p.cancel === 'during-payment').every((p) => CARDS.find((c) => c.kind === p.card)!.action)).toBe(true);
    expect(draw(7)).toEqual(plans);
    expect(draw(8)).not.toEqual(plans);
  });

  it('every card with every way of cancelling comes up within the first customers of a run, however the dice fall', () => {
    // No one cancels by chance here: the combinations must come from the rotation alone.
    const random = createRandom(3);
    const plans = Array.from({ length: COMBINATIONS.length * COVERAGE_EVERY }, (_, i) => planShopper(random, catalog, { cancel: 0, lowStock: 0 }, i + 1));
    const seen = new Set(plans.map((p) => `${p.card}/${p.cancel}`));
    expect(COMBINATIONS.filter((c) => !seen.has(`${c.card.kind}/${c.cancel}`))).toEqual([]);
    expect(seen).toContain('processing-fails/during-payment');
  });
});

describe('fault soak process freezing', () => {
  it('stops a component with every descendant, also one that left its process group (as PostgreSQL backends do), and resumes them', async () => {
    // A leader in its own group (as the stack starts components), a child in that group and one that
    // setsid()s away from it.
    const leader = spawn('/bin/sh', ['-c', 'sleep 60 & setsid sleep 60 & wait'], { detached: true, stdio: 'ignore' });
    const pid = leader.pid!;
    try {
      let tree: number[] = [];
      for (let i = 0; i < 50 && tree.length < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        tree = processTree(pid);
      }
      expect(tree).toHaveLength(3);

      const frozen = await freezeTree(pid);
      expect([...frozen.pids].sort()).toEqual([...tree].sort());
      expect(tree.map(processState)).toEqual(['T', 'T', 'T']);
      frozen.thaw();
      // SIGCONT, unlike SIGSTOP, is acted on by the kernel when it is sent.
      expect(tree.map(processState).filter((s) => s === 'T')).toEqual([]);
    } finally {
      for (const p of processTree(pid)) process.kill(p, 'SIGKILL');
      if (leader.exitCode === null && leader.signalCode === null) await once(leader, 'exit');
    }
  });
});

describe('fault soak load balancer', () => {
  const servers: http.Server[] = [];
  let balancer: Balancer | undefined;
  afterEach(async () => {
    await balancer?.close();
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  async function backend(handler: http.RequestListener): Promise<{ server: http.Server; port: number }> {
    const server = http.createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, port: (server.address() as AddressInfo).port };
  }

  it('spreads requests over the instances and moves them to the other when one is gone', async () => {
    const seen = { a: 0, b: 0 };
    const a = await backend((req, res) => {
      seen.a++;
      req.resume();
      res.end('a');
    });
    const b = await backend((req, res) => {
      seen.b++;
      req.resume();
      res.end('b');
    });
    balancer = await startBalancer([
      { name: 'a', port: a.port },
      { name: 'b', port: b.port },
    ]);
    const client = createHttpClient(balancer.url);
    try {
      for (let i = 0; i < 4; i++) expect((await client.request('POST', '/api/checkouts', { body: { n: i } })).status).toBe(200);
      expect(seen).toEqual({ a: 2, b: 2 });

      a.server.closeAllConnections();
      await new Promise((resolve) => a.server.close(resolve));
      const answers = await Promise.all(Array.from({ length: 4 }, () => client.request('GET', '/healthz')));
      expect(answers.map((r) => [r.status, r.body])).toEqual(Array(4).fill([200, 'b']));
      expect(balancer.stats.failovers).toBeGreaterThan(0);
    } finally {
      client.close();
    }
  });

  it('answers 502 when an instance dies mid-request, and never sends that request to another instance', async () => {
    let reachedOther = 0;
    const dying = await backend((req) => req.socket.destroy());
    const other = await backend((req, res) => {
      reachedOther++;
      req.resume();
      res.end('other');
    });
    balancer = await startBalancer([
      { name: 'dying', port: dying.port },
      { name: 'other', port: other.port },
    ]);
    const client = createHttpClient(balancer.url);
    try {
      const res = await client.request('POST', '/api/checkouts', { body: { n: 1 } });
      expect(res.status).toBe(502);
      expect(reachedOther).toBe(0);
      expect(balancer.stats.failures).toEqual({ dying: 1 });
    } finally {
      client.close();
    }
  });
});

describe('fault soak against the test stack', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
    await api.receiveWebhooks();
  });
  afterAll(async () => {
    await api?.close();
  });

  it('reads a topic from its first record to its end, each record once', async () => {
    const topic = `faults-read-${randomUUID()}`;
    const kafka = new Kafka({ clientId: 'faults-test', brokers: api.h.config.KAFKA_BROKERS, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    const producer = kafka.producer();
    await admin.connect();
    await producer.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
      const sent = Array.from({ length: 12 }, (_, i) => ({ key: `order-${i % 4}`, value: `event-${i}` }));
      await producer.send({ topic, messages: sent });
      const records = await readWholeTopic(api.h.config.KAFKA_BROKERS, topic, 60_000);
      expect(records.map((r) => r.value).sort()).toEqual(sent.map((m) => m.value).sort());
    } finally {
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });

  it("customers buy through the API and the facts gathered from Stripe, PostgreSQL, Temporal and Kafka hold; a second charge made at Stripe is caught", async () => {
    const sku = await api.h.seedProduct({ stock: 10, priceMinor: 2500 });
    const catalog: SoakProduct[] = [{ sku, priceMinor: 2500, initialStock: 10, lowStock: false }];
    const runId = randomUUID().slice(0, 8);
    const httpClient = createHttpClient(api.url);
    const emulator = createHttpClient(api.h.config.STRIPE_API_URL!);
    const ctx: ShopContext = {
      http: httpClient,
      emulator,
      random: createRandom(1),
      runId,
      catalog,
      mix: { cancel: 0, lowStock: 0 },
      stats: newStats(),
      scenario: () => 'test',
      followUntil: () => Date.now() + 60_000,
      postPatienceMs: 10_000,
    };
    try {
      const journeys = (['visa', 'declined', '3ds-completed'] as const).map((card, i) => {
        const journey = newJourney(ctx, i + 1);
        journey.plan = { card, cancel: 'none', sku, quantity: 1 };
        return journey;
      });
      await Promise.all(journeys.map((j) => shop(ctx, j)));
      expect(journeys.map((j) => [j.plan.card, j.lastStatus])).toEqual([
        ['visa', 'COMPLETED'],
        ['declined', 'FAILED'],
        ['3ds-completed', 'COMPLETED'],
      ]);
      expect(journeys[2]!.payment).toMatchObject({ endpoint: 'authenticate', outcome: 'succeed', answer: 200 });

      const sources = {
        databaseUrl: api.h.config.DATABASE_URL,
        temporalAddress: api.h.config.TEMPORAL_ADDRESS,
        namespace: api.h.config.TEMPORAL_NAMESPACE,
        dataConverter: temporalDataConverter(api.h.config),
        taskQueue: api.h.taskQueue,
        stripeEmulatorUrl: api.h.config.STRIPE_API_URL!,
        kafkaBrokers: api.h.config.KAFKA_BROKERS,
        topic: api.h.config.KAFKA_TOPIC,
        runId,
        catalog,
        journeys,
      };
      const facts = await gatherFacts(sources, () => {});
      const byCard = [...facts.checkouts].sort((x, y) => journeys.indexOf(x.journey!) - journeys.indexOf(y.journey!));
      expect(byCard.map((c) => [c.journey?.plan.card, c.saga, c.row.status, c.intents.map((i) => i.captured), c.orderConfirmed.length])).toEqual([
        ['visa', { execution: 'COMPLETED', checkoutStatus: 'COMPLETED' }, 'COMPLETED', [2500], 1],
        ['declined', { execution: 'COMPLETED', checkoutStatus: 'FAILED' }, 'FAILED', [0], 0],
        ['3ds-completed', { execution: 'COMPLETED', checkoutStatus: 'COMPLETED' }, 'COMPLETED', [2500], 1],
      ]);
      expect(facts.products).toEqual([{ sku, initialStock: 10, available: 8 }]);
      // The copies rule is left to the soak: on today's product a retried last workflow task may
      // publish order.confirmed a second time with another `time` (the soak reports it). Here
      // each completed checkout must have its one id.
      expect(checkInvariants(facts).filter((r) => !r.passed && r.name !== 'each order.confirmed once per CloudEvent id')).toEqual([]);
      expect(byCard.map((c) => c.orderConfirmed.map((e) => e.id))).toEqual([[`checkout-${byCard[0]!.checkoutId}:order.confirmed`], [], [`checkout-${byCard[2]!.checkoutId}:order.confirmed`]]);

      // The same customer charged again at Stripe, outside the saga: the facts must show it.
      const charged = journeys[0]!.checkoutId!;
      await api.h.emulator.stripe.paymentIntents.create({
        amount: 2500,
        currency: 'eur',
        payment_method: 'pm_card_visa',
        confirm: true,
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
        metadata: { checkoutId: charged },
      });
      const after = await gatherFacts(sources, () => {});
      const failed = checkInvariants(after).filter((r) => !r.passed && r.name !== 'each order.confirmed once per CloudEvent id');
      expect(failed.map((r) => [r.name, offendersOf(r)])).toEqual([
        ['no double charge', [charged]],
        ['every confirmed order holds its money', [charged]],
      ]);
    } finally {
      httpClient.close();
      emulator.close();
    }
  });
});
