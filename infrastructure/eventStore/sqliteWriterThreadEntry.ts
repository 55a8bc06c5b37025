/**
 * Entry point of the SQLite writer thread (see `SqliteWriterThread`): one
 * connection to the events file that commits the batches it is sent.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type {
  WriterReply,
  WriterRequest,
  WriterThreadSettings,
} from './sqliteWriterThread';
import {
  AppendOutcome,
  openEventsConnection,
  SqliteWriter,
  toWriteFailure,
  WriteFailure,
} from './sqliteWriter';

const port = parentPort!;
const { path, connection } = workerData as WriterThreadSettings;
const db = openEventsConnection(path, connection);
const writer = new SqliteWriter(db);

const portable = (outcome: AppendOutcome): AppendOutcome<WriteFailure> =>
  outcome.ok ? outcome : { ok: false, error: toWriteFailure(outcome.error) };

port.on('message', (request: WriterRequest) => {
  if (request.kind === 'close') {
    db.close();
    port.close();
    return;
  }
  let reply: WriterReply;
  try {
    reply = {
      kind: 'written',
      outcomes: writer.write(request.batch).map(portable),
    };
  } catch (error) {
    reply = { kind: 'failed', error: toWriteFailure(error) };
  }
  port.postMessage(reply);
});
