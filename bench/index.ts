/**
 * Runs the benchmarks and prints one JSON line per figure:
 * `npm run bench`.
 */
import { runEventStoreBench } from './eventStoreBench';
import { runHttpBench } from './httpBench';
import { runReadModelBench } from './readModelBench';

const main = async (): Promise<void> => {
  for (const bench of [runEventStoreBench, runHttpBench, runReadModelBench]) {
    for (const figure of await bench()) console.log(JSON.stringify(figure));
  }
};

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
