import { DefaultFailureConverter } from '@temporalio/common';

/**
 * Failures keep their message and stack trace in a payload instead of in clear, so the payload
 * codec seals them like every other payload: an error's text can quote customer data (a failed
 * query repeats its parameters, a refusal names what was asked). The worker loads it by path, also
 * inside the workflow sandbox, which is why it is a module of its own with nothing else in it.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
