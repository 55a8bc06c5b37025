import path from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * Starts a worker thread running `entry`, a module file without its
 * extension, next to the caller's own file. Under tsx (tests, `npm
 * start`) the thread needs tsx's require hook before it can load
 * TypeScript, and a thread does not inherit it; compiled JavaScript
 * loads directly.
 */
export const startThread = (
  callerFile: string,
  entry: string,
  workerData: unknown,
): Worker => {
  const extension = path.extname(callerFile);
  const file = path.join(path.dirname(callerFile), `${entry}${extension}`);
  const load = `require(${JSON.stringify(file)});`;
  const source =
    extension === '.ts'
      ? `require(${JSON.stringify(require.resolve('tsx/cjs'))});\n${load}`
      : load;
  return new Worker(source, { eval: true, workerData });
};
