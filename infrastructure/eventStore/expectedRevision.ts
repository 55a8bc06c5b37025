import {
  ExpectedRevision,
  WrongExpectedVersionError,
} from '../../application/eventStore';

/** A stream's state before an append: its last revision, or none yet. */
export type CurrentRevision = bigint | 'no_stream';

/**
 * Throws `WrongExpectedVersionError` when a stream at `current` does not
 * match `expected`; shared by the adapters that check revisions themselves.
 */
export const assertExpectedRevision = (
  streamId: string,
  expected: ExpectedRevision,
  current: CurrentRevision,
): void => {
  const matches =
    expected === 'any' ||
    (expected === 'no_stream' && current === 'no_stream') ||
    (expected === 'stream_exists' && current !== 'no_stream') ||
    (typeof expected === 'bigint' && expected === current);
  if (!matches) {
    throw new WrongExpectedVersionError(streamId, expected, current);
  }
};

/** The revision the first appended event gets on a stream at `current`. */
export const nextRevision = (current: CurrentRevision): bigint =>
  current === 'no_stream' ? 0n : current + 1n;
