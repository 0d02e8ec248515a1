/**
 * A one-line progress bar on stderr for long work (downloads, quantizing, compiling).
 * On a terminal it redraws in place; otherwise it prints a line at each 10% so logs stay short.
 * Silent when `quiet` is set. When the total is not known (`undefined`, e.g. a download whose
 * server sends no length), it shows only the amount done: redrawn on a terminal, otherwise
 * nothing until `done()`.
 */
export class Progress {
  private lastDecile = -1;
  private lastDraw = 0;
  private readonly tty: boolean;
  private readonly started = Date.now();

  constructor(
    private readonly label: string,
    private readonly total: number | undefined,
    private readonly options: { quiet?: boolean; stream?: NodeJS.WriteStream; unit?: 'bytes' | 'items' } = {},
  ) {
    this.tty = Boolean((options.stream ?? process.stderr).isTTY);
  }

  private get stream(): NodeJS.WriteStream {
    return this.options.stream ?? process.stderr;
  }

  update(done: number): void {
    if (this.options.quiet) return;
    if (this.total === undefined) {
      this.updateWithoutTotal(done);
      return;
    }
    const fraction = this.total > 0 ? Math.min(1, done / this.total) : 1;
    if (this.tty) {
      const now = Date.now();
      if (now - this.lastDraw < 80 && fraction < 1) return;
      this.lastDraw = now;
      const width = 30;
      const filled = Math.round(fraction * width);
      const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
      this.stream.write(`\r${this.label} [${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% ${this.amount(done)}`);
    } else {
      const decile = Math.floor(fraction * 10);
      if (decile === this.lastDecile) return;
      this.lastDecile = decile;
      this.stream.write(`${this.label}: ${decile * 10}% ${this.amount(done)}\n`);
    }
  }

  done(message?: string): void {
    if (this.options.quiet) return;
    const seconds = ((Date.now() - this.started) / 1000).toFixed(1);
    const text = `${this.label}: ${message ?? 'done'} (${seconds} s)`;
    this.stream.write(this.tty ? `\r\x1b[K${text}\n` : `${text}\n`);
  }

  private updateWithoutTotal(done: number): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.lastDraw < 80) return;
    this.lastDraw = now;
    this.stream.write(`\r${this.label} ${this.options.unit === 'bytes' ? formatBytes(done) : String(done)}`);
  }

  private amount(done: number): string {
    const total = this.total ?? 0;
    if (this.options.unit === 'bytes') return `${formatBytes(done)} / ${formatBytes(total)}`;
    return `${done} / ${total}`;
  }
}

/** A byte count for people, in binary units: B below 1 KiB, then KiB and MiB with one decimal, GiB with two. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}
