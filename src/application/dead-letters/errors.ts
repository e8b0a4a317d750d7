import { DomainError } from '../errors';

export class DeadLetterNotFoundError extends DomainError {
  readonly kind = 'not_found';
  readonly code = 'dead-letter-not-found';
  readonly title = 'No such dead letter';

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: string,
  ) {
    super(`There is no dead letter at ${partition}:${offset} in ${topic}.`);
  }
}

/** A dead letter of another topic than the one this service publishes to: replaying it here would put it in the wrong stream. */
export class DeadLetterOfAnotherTopicError extends DomainError {
  readonly kind = 'conflict';
  readonly code = 'dead-letter-of-another-topic';
  readonly title = 'The dead letter came from another topic';

  constructor(
    readonly originalTopic: string,
    readonly topic: string,
  ) {
    super(`The dead letter came from ${originalTopic}, not from ${topic}.`);
  }
}
