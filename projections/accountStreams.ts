import type { RecordedEvent } from '../application/eventStore';
import { accountStream, AccountEvent } from '../domain/account';

/** The account the read models describe. Default `main`, as the engine's. */
export const DEFAULT_ACCOUNT_ID = 'main';

/**
 * The event as an account event when it belongs to `accountId`'s stream,
 * otherwise null: the account read models fold nothing else.
 */
export const accountEventOf = (
  event: RecordedEvent,
  accountId: string,
): AccountEvent | null => {
  // Every projection asks this of every event: spare the string building.
  if (accountId !== lastAccountId) {
    lastAccountId = accountId;
    lastStream = accountStream(accountId);
  }
  return event.streamId === lastStream
    ? (event as unknown as AccountEvent)
    : null;
};

let lastAccountId = '';
let lastStream = '';
