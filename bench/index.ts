/**
 * Runs the benchmarks and prints one JSON line per figure:
 * `npm run bench`.
 */
import { runEventStoreBench } from './eventStoreBench';

const main = async (): Promise<void> => {
  for (const figure of await runEventStoreBench()) {
    console.log(JSON.stringify(figure));
  }
};

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
