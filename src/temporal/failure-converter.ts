import { DefaultFailureConverter, TimeoutFailure, type PayloadConverter, type ProtoFailure, type SerializationContext } from '@temporalio/common';

/**
 * Failures keep their message and stack trace in a payload instead of in clear, so the payload
 * codec seals them like every other payload: an error's text can quote customer data (a failed
 * query repeats its parameters, a refusal names what was asked). The worker loads it by path, also
 * inside the workflow sandbox, which is why it is a module of its own with nothing else in it.
 *
 * A timeout keeps its cause. An activity whose retries outlast its ScheduleToClose window ends as
 * a timeout whose cause is the last attempt's real failure (the server records it there), but the
 * SDK's converter drops the cause of a TimeoutFailure, and the saga would report "giving up
 * retrying" to the operator instead of what went wrong.
 */
class SealedFailureConverter extends DefaultFailureConverter {
  override failureToErrorInner(failure: ProtoFailure, payloadConverter: PayloadConverter, context?: SerializationContext): Error {
    const err = super.failureToErrorInner(failure, payloadConverter, context);
    if (err instanceof TimeoutFailure && failure.cause && err.cause === undefined) {
      // `cause` is read-only on TemporalFailure: set where its constructor would have.
      Object.defineProperty(err, 'cause', { value: this.optionalFailureToOptionalError(failure.cause, payloadConverter, context), enumerable: false, configurable: true });
    }
    return err;
  }
}

export const failureConverter = new SealedFailureConverter({ encodeCommonAttributes: true });
