/** The workflows this worker runs; the bundler starts here, so nothing with I/O may be imported. */
export { CheckoutWorkflow } from './checkout/workflow';
export { RefundWorkflow } from './refund/workflow';
export { ExternalRefundWorkflow } from './refund/external-workflow';
export { DisputeWorkflow } from './dispute/workflow';
