/** Assertions about the errors meant for users. */
import { expect } from 'chai';
import { UserError } from '../../src/util/errors.js';

/** Runs `fn`, which must throw a UserError, and returns it (for checks on its message). */
export function userError(fn: () => unknown): UserError {
  try {
    fn();
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(UserError);
    return err as UserError;
  }
  throw new Error('expected a UserError, but nothing was thrown');
}

/** Resolves to the UserError `promise` rejects with (and fails when it resolves). */
export async function rejectedUserError(promise: Promise<unknown>): Promise<UserError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(UserError);
    return err as UserError;
  }
  throw new Error('expected a UserError, but it succeeded');
}
