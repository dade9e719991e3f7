/** A progress bar on stderr, only when stderr is a terminal and the job is long enough to want one. */
export interface Progress {
  update: (done: number, total: number) => void;
  done: () => void;
}

export function progressBar(total: number, stream: NodeJS.WriteStream = process.stderr): Progress | undefined {
  if (!stream.isTTY || total < 200 || process.env.CI) return undefined;
  let last = -1;
  return {
    update(done, all) {
      const pct = Math.floor((done / all) * 100);
      if (pct === last) return;
      last = pct;
      const width = 30;
      const fill = Math.round((pct / 100) * width);
      stream.write(`\r[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${pct}% ${done}/${all}`);
    },
    done() {
      if (last >= 0) stream.write('\r' + ' '.repeat(60) + '\r');
    },
  };
}
