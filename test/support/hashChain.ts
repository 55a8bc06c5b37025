import { expect } from 'chai';
import type { RecordedEvent } from '../../application/eventStore';
import { eventHash, GENESIS_HASH } from '../../application/hashChain';

/** Fails unless each event chains to the one before, as an auditor checks. */
export const expectChained = (
  events: RecordedEvent[],
  firstPrevHash = GENESIS_HASH,
) => {
  let prevHash = firstPrevHash;
  for (const event of events) {
    expect(event.metadata.prevHash, `prevHash at ${event.revision}`).to.equal(
      prevHash,
    );
    prevHash = eventHash(
      prevHash,
      event.streamId,
      event.revision,
      event.type,
      event.data,
    );
    expect(event.metadata.hash, `hash at ${event.revision}`).to.equal(prevHash);
  }
};
