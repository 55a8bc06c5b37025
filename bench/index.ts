/**
 * Runs the benchmarks and prints one JSON line per figure:
 * `npm run bench`, or `npm run bench -- http readmodels` for some of them.
 */
import { runEngineBench } from './engineBench';
import { runEventStoreBench } from './eventStoreBench';
import { runHttpBench } from './httpBench';
import { runReadModelBench } from './readModelBench';

const BENCHES: Record<string, () => Promise<object[]>> = {
  engine: runEngineBench,
  eventstore: runEventStoreBench,
  http: runHttpBench,
  readmodels: runReadModelBench,
};

const main = async (): Promise<void> => {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((name) => !(name in BENCHES));
  if (unknown.length > 0) {
    throw new Error(
      `unknown bench ${unknown.join(', ')}; choose from ${Object.keys(BENCHES).join(', ')}`,
    );
  }
  const names = wanted.length > 0 ? wanted : Object.keys(BENCHES);
  for (const name of names) {
    for (const figure of await BENCHES[name]()) {
      console.log(JSON.stringify(figure));
    }
  }
};

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
