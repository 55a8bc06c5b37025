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
): AccountEvent | null =>
  event.streamId === accountStream(accountId)
    ? (event as unknown as AccountEvent)
    : null;
