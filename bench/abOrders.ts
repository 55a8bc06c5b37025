/**
 * Orders A/B: this checkout against another commit, in one process.
 *
 *   npm run bench:ab -- --against HEAD~1 [--runs 5]
 *
 * Runs between checkouts differ by 3-5 % on a shared machine, more than
 * most changes to the order path. Here both versions serve at once, from
 * one process, against one express baseline, in alternating 3-second
 * runs, so machine noise hits them alike. Prints one JSON line per side
 * and one for the comparison: orders/s, ratio to the baseline, and the
 * HTTP thread's CPU per order (Linux).
 */
import { Command } from 'commander';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import {
  loadInTurns,
  startBenchServer,
  startOrderBaseline,
  type StartMirai,
} from './httpBench';
import { median, round } from './stats';

const REPO = path.resolve(__dirname, '..');

const git = (...args: string[]) =>
  execFileSync('git', args, { cwd: REPO, encoding: 'utf8' }).trim();

/**
 * A checkout of `ref` in a temporary folder beside the market data this
 * one reads, using this checkout's node_modules (the same dependencies
 * are assumed). `remove` deletes it.
 */
const checkOut = (ref: string) => {
  const commit = git('rev-parse', '--verify', `${ref}^{commit}`);
  // ../shared must sit beside the checkout, as it does beside this one.
  const dir = mkdtempSync(path.join(path.dirname(REPO), '.mirai-ab-'));
  git('worktree', 'add', '--detach', dir, commit);
  symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
  return {
    commit,
    dir,
    remove: () => git('worktree', 'remove', '--force', dir),
  };
};

const main = async () => {
  const options = new Command()
    .requiredOption('--against <ref>', 'commit to compare this checkout with')
    .option('--runs <n>', 'load runs per side', '5')
    .parse()
    .opts<{ against: string; runs: string }>();
  const runs = Number(options.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs: 1 or more');

  const other = checkOut(options.against);
  try {
    // tsx compiles the other checkout's TypeScript as it loads.
    const otherStart = require(path.join(other.dir, 'server'))
      .startMirai as StartMirai;
    const sides = {
      [options.against]: await startBenchServer(
        { durability: 'full' },
        otherStart,
      ),
      working_tree: await startBenchServer({ durability: 'full' }),
    };
    const baseline = await startOrderBaseline();
    const names = Object.keys(sides);
    const { perSecond, cpu } = await loadInTurns(baseline, sides, runs, {
      alternate: true,
    });

    const base = median(perSecond.baseline);
    const figure = (name: string) => ({
      bench: 'ab_http_orders',
      side: name,
      ...(name === options.against && { commit: other.commit }),
      unit: 'orders/s',
      median: round(median(perSecond[name])),
      runs: perSecond[name].map(round),
      ratio_to_baseline: round(median(perSecond[name]) / base),
      ...(cpu[name] && {
        main_thread_cpu_us_per_order: round(median(cpu[name])),
      }),
    });
    for (const name of names) console.log(JSON.stringify(figure(name)));
    const [before, after] = names;
    console.log(
      JSON.stringify({
        bench: 'ab_http_orders_change',
        against: options.against,
        baseline_median: round(base),
        orders_ratio: round(
          median(perSecond[after]) / median(perSecond[before]),
        ),
        ...(cpu[before] &&
          cpu[after] && {
            cpu_per_order_ratio: round(
              median(cpu[after]) / median(cpu[before]),
            ),
          }),
      }),
    );
  } finally {
    other.remove();
  }
};

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
