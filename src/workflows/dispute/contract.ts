/**
 * The DisputeWorkflow contract: one long-lived workflow per Stripe dispute, woken by every
 * `charge.dispute.*` webhook. Types and pure functions only: it runs in the workflow sandbox.
 */
import { defineSignal } from '@temporalio/workflow';
import type { OutcomeEvent } from '../../events/contract';

export const DISPUTE_WORKFLOW_TYPE = 'DisputeWorkflow';
export const disputeWorkflowId = (disputeId: string): string => `dispute-${disputeId}`;

/** Sent (with start) by the webhook route for each `charge.dispute.*` event: "look at the dispute again". */
export const disputeChangedSignal = defineSignal<[{ stripeEventId: string; type: string }]>('disputeChanged');

export interface DisputeInput {
  disputeId: string;
}

/** A dispute as Stripe describes it now, reduced to what the ledger keeps. */
export interface DisputeFacts {
  disputeId: string;
  chargeId: string;
  paymentIntentId: string | null;
  amount: number;
  currency: string;
  reason: string;
  /** Stripe's status: warning_needs_response, needs_response, under_review, won, lost, ... */
  status: string;
  evidenceDueBy: string | null;
  /** Set once Stripe decided it. */
  outcome: 'won' | 'lost' | null;
}

/** What recording a dispute changed: the events that announce it, each with the time it was recorded. */
export interface RecordedDispute {
  /** Set when the payment belongs to no confirmed order of ours (nothing recorded). */
  ignored?: string;
  orderId?: string;
  announcements: { event: OutcomeEvent; time: string }[];
}

export interface DisputeResult {
  outcome: 'won' | 'lost' | null;
  ignored?: string;
}
