/** A start-up problem the user can fix: printed as one line (plus the usage when `usage`). */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly usage = false,
  ) {
    super(message);
    this.name = "StartupError";
  }
}
