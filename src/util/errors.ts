/**
 * An error the user can act on. The CLI prints its message (and nothing else: no stack trace)
 * and exits with `exitCode`. Messages say which file, what was expected, what was found and
 * what to do.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'UserError';
  }
}

/** The message of anything thrown, for places that wrap lower-level errors. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
