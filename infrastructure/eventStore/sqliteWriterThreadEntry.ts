/**
 * Entry point of the SQLite writer thread (see `SqliteWriterThread`): one
 * connection to the events file that commits the batches it is sent.
 */
import {
  MessagePort,
  parentPort,
  receiveMessageOnPort,
  workerData,
} from 'node:worker_threads';
import type {
  WriterReply,
  WriterRequest,
  WriterThreadSettings,
} from './sqliteWriterThread';
import {
  AppendOutcome,
  openEventsConnection,
  SerializedAppend,
  SqliteWriter,
  toWriteFailure,
  WriteFailure,
} from './sqliteWriter';

const port = parentPort as MessagePort;
const { path, connection } = workerData as WriterThreadSettings;
const db = openEventsConnection(path, connection);
const writer = new SqliteWriter(db);

const portable = (outcome: AppendOutcome): AppendOutcome<WriteFailure> =>
  outcome.ok ? outcome : { ok: false, error: toWriteFailure(outcome.error) };

/**
 * Commits `batches` in one transaction and answers each of them. Batches
 * that queued up while the last commit ran are joined this way, so a busy
 * store pays one fsync for all of them.
 */
const writeTogether = (batches: SerializedAppend[][]): void => {
  let outcomes: AppendOutcome[];
  try {
    outcomes = writer.write(batches.flat());
  } catch (error) {
    const reply: WriterReply = { kind: 'failed', error: toWriteFailure(error) };
    for (let i = 0; i < batches.length; i++) port.postMessage(reply);
    return;
  }
  let start = 0;
  for (const batch of batches) {
    const mine = outcomes.slice(start, start + batch.length);
    start += batch.length;
    port.postMessage({
      kind: 'written',
      outcomes: mine.map(portable),
    } satisfies WriterReply);
  }
};

const close = () => {
  db.close();
  port.close();
};

port.on('message', (first: WriterRequest) => {
  const batches: SerializedAppend[][] = [];
  let closing = false;
  for (
    let request: WriterRequest | undefined = first;
    request !== undefined;
    request =
      (receiveMessageOnPort(port)?.message as WriterRequest) ?? undefined
  ) {
    if (request.kind === 'close') {
      closing = true;
      break;
    }
    batches.push(request.batch);
  }
  if (batches.length > 0) writeTogether(batches);
  if (closing) close();
});
