/**
 * How long the live lattice has been held at a step boundary, on the
 * engine's injected clock. Holds may nest or overlap (a benchmark and a
 * measurement window): time counts once, while at least one is open.
 */
export class HeldClock {
  private depth = 0;
  private openedAtMs = 0;
  private closedMs = 0;

  constructor(private readonly now: () => number) {}

  /** Opens a hold; the returned function closes it (once). */
  hold(): () => void {
    if (this.depth === 0) this.openedAtMs = this.now();
    this.depth += 1;
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      this.depth -= 1;
      if (this.depth === 0) this.closedMs += this.now() - this.openedAtMs;
    };
  }

  /** Milliseconds held so far, the hold open now included. */
  totalMs(): number {
    return this.closedMs + (this.depth > 0 ? this.now() - this.openedAtMs : 0);
  }

  get held(): boolean {
    return this.depth > 0;
  }
}
