/**
 * Writing a command's output to stdout: buffered writes, and a reader that went away (`| head`)
 * ends the command quietly instead of with an EPIPE stack trace.
 */
export class OutputSink {
  private closed = false;

  constructor(private readonly stream: NodeJS.WriteStream) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') {
        this.closed = true;
        process.exit(0);
      }
      throw err;
    });
  }

  write(text: string): void {
    if (!this.closed && text.length > 0) this.stream.write(text);
  }
}
