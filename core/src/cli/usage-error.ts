/**
 * UsageError is a wrong flag or value: the CLI prints it as one line with a pointer to the
 * command's help and exits 2.
 */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command path for the help hint, e.g. "keys create". */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}
