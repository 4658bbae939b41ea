import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, total?: number): void;
  stop(): void;
}

/**
 * A progress bar on stderr for long work. On a terminal it draws a bar; otherwise (CI, pipes) it prints a line
 * at each 10% so logs stay readable. `quiet` (e.g. --json) prints nothing.
 */
export function createProgress(label: string, total: number, quiet = false): Progress {
  if (quiet) return { update() {}, stop() {} };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label.padEnd(14)} [{bar}] {percentage}% | {value}/{total} | {eta_formatted} left`, stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(total, 1), 0);
    return {
      update: (done, newTotal) => {
        if (newTotal !== undefined) bar.setTotal(Math.max(newTotal, 1));
        bar.update(done);
      },
      stop: () => bar.stop(),
    };
  }
  let lastDecile = -1;
  let currentTotal = total;
  return {
    update(done, newTotal) {
      if (newTotal !== undefined) currentTotal = newTotal;
      const decile = currentTotal > 0 ? Math.floor((done / currentTotal) * 10) : 10;
      if (decile !== lastDecile) {
        lastDecile = decile;
        process.stderr.write(`${label}: ${done}/${currentTotal}\n`);
      }
    },
    stop() {},
  };
}
