import type { Config } from '../../config';
import type { CheckoutInput } from '../../workflows/checkout/contract';

export type SagaTimingVariable =
  | 'PAYMENT_ACTION_TIMEOUT_MS'
  | 'PAYMENT_ABANDON_AFTER_MS'
  | 'PAYMENT_SETTLEMENT_HORIZON_MS'
  | 'PAYMENT_RECONCILE_INTERVAL_MS'
  | 'COMPENSATION_RETRY_WINDOW_MS'
  | 'PAYMENT_CAPTURE_MODE';

export type SagaTimings = Pick<
  CheckoutInput,
  'paymentActionTimeoutMs' | 'paymentAbandonAfterMs' | 'paymentSettlementHorizonMs' | 'paymentReconcileIntervalMs' | 'compensationRetryWindowMs' | 'captureMode'
>;

/**
 * The saga's clocks and capture mode, taken from the configuration when a checkout starts and
 * carried in its input: a running checkout keeps what it started with, whatever a later deploy configures.
 */
export function sagaTimings(config: Pick<Config, SagaTimingVariable>): SagaTimings {
  return {
    paymentActionTimeoutMs: config.PAYMENT_ACTION_TIMEOUT_MS,
    ...(config.PAYMENT_ABANDON_AFTER_MS > 0 ? { paymentAbandonAfterMs: config.PAYMENT_ABANDON_AFTER_MS } : {}),
    paymentSettlementHorizonMs: config.PAYMENT_SETTLEMENT_HORIZON_MS,
    paymentReconcileIntervalMs: config.PAYMENT_RECONCILE_INTERVAL_MS,
    compensationRetryWindowMs: config.COMPENSATION_RETRY_WINDOW_MS,
    captureMode: config.PAYMENT_CAPTURE_MODE,
  };
}
