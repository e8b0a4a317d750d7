import { parameterError } from './errors';
import type { PaymentIntentObject } from './store';

/**
 * The part of Stripe's Search Query Language the service needs for PaymentIntents: exact matches on
 * `metadata['key']`, `status`, `currency` and `amount`, joined by AND or by OR (Stripe forbids mixing
 * them), e.g. `metadata['checkoutId']:'c-1' AND status:'succeeded'`.
 */

type Predicate = (intent: PaymentIntentObject) => boolean;

const CLAUSE = /^\s*(?:metadata\[(?<q>['"])(?<key>[^'"]+)\k<q>\]|(?<field>[a-z_]+))\s*:\s*(?:(?<vq>['"])(?<text>[^'"]*)\k<vq>|(?<number>-?\d+))\s*/;
const JOINER = /^(AND|OR)\s+/;

export function parsePaymentIntentQuery(query: string): Predicate {
  const clauses: Predicate[] = [];
  const joiners = new Set<string>();
  let rest = query.trim();
  while (rest.length > 0) {
    const match = CLAUSE.exec(rest);
    if (!match?.groups) throw unparseable(query);
    clauses.push(clausePredicate(match.groups, query));
    rest = rest.slice(match[0].length);
    if (rest.length === 0) break;
    const joiner = JOINER.exec(rest);
    if (!joiner) throw unparseable(query);
    joiners.add(joiner[1]!);
    rest = rest.slice(joiner[0].length);
  }
  if (clauses.length === 0) throw unparseable(query);
  if (joiners.size > 1) throw parameterError('Search queries cannot mix AND and OR.', { param: 'query' });
  return joiners.has('OR') ? (pi) => clauses.some((c) => c(pi)) : (pi) => clauses.every((c) => c(pi));
}

function clausePredicate(groups: Record<string, string | undefined>, query: string): Predicate {
  const value = groups.text ?? groups.number ?? '';
  if (groups.key !== undefined) {
    const key = groups.key;
    return (pi) => pi.metadata[key] === value;
  }
  switch (groups.field) {
    case 'status':
      return (pi) => pi.status === value;
    case 'currency':
      return (pi) => pi.currency === value.toLowerCase();
    case 'amount':
      return (pi) => pi.amount === Number(value);
    default:
      throw parameterError(`Field \`${groups.field}\` is not supported by the Stripe emulator's search (query: ${query}).`, { param: 'query' });
  }
}

function unparseable(query: string) {
  return parameterError(
    `We were unable to parse your search query. Try using the format \`metadata["key"]:"value"\` to query for metadata or \`key:"value"\` to query for other fields. (query: ${query})`,
    { param: 'query' },
  );
}
