/**
 * Entry point of the projection worker thread (see `ProjectionWorker`):
 * runs every projection over its own connections to the event store and
 * read-model files, and reports checkpoints and log lines to the host.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteEventStore } from '../infrastructure/eventStore/sqliteEventStore';
import { portableFields } from '../infrastructure/threads/portableFields';
import { createProjections } from './createProjections';
import type {
  HostMessage,
  ProjectionThreadSettings,
  ThreadMessage,
} from './projectionWorker';
import { ProjectionRuntime } from './projectionRuntime';
import type { ReadModelChange } from './readModelRuntime';
import { openReadModelDb } from './readModelDb';

const port = parentPort!;
const settings = workerData as ProjectionThreadSettings;

const post = (message: ThreadMessage): void => port.postMessage(message);

const log =
  (level: 'info' | 'error') =>
  (message: string, fields?: Record<string, unknown>) =>
    post({ kind: 'log', level, message, fields: portableFields(fields) });

const store = new SqliteEventStore({
  path: settings.eventsPath,
  durability: settings.durability,
});
const db = openReadModelDb(settings.readModelsPath);
const runtime = new ProjectionRuntime({
  store,
  db,
  projections: createProjections(store, settings.projections),
  batchSize: settings.batchSize,
  log: { info: log('info'), error: log('error') },
});

let changes: ReadModelChange[] = [];
runtime.changes.subscribe((change) => changes.push(change));
const report = (kind: 'ready' | 'progress') => {
  post({
    kind,
    statuses: runtime.statuses(),
    counters: runtime.counters(),
    changes,
  });
  changes = [];
};
runtime.progress.subscribe(() => report('progress'));

port.on('message', (message: HostMessage) => {
  switch (message.kind) {
    case 'wake':
      store.wake();
      return;
    case 'stop':
      void (async () => {
        await runtime.stop();
        await store.close();
        db.close();
        post({ kind: 'stopped' });
        port.close();
      })();
      return;
  }
});

// A start that fails throws here and ends the thread, which the host
// reports as a failed start.
void runtime.start().then(() => report('ready'));
