// Failed logins are audited, but one client address guessing in a loop must not fill the audit spool (audit
// fails closed: a full spool refuses everyone's statements) or the store. Past `perWindow` failures from an
// address within a window, the rest are counted, and recorded as one summary event when the window ends.

export interface TAuthFailureSummary {
  clientAddr: string;
  /** Failures not recorded one by one. */
  suppressed: number;
  windowMs: number;
}

interface TWindow {
  startedAt: number;
  failures: number;
}

export class AuthFailureLog {
  private readonly windows = new Map<string, TWindow>();
  private readonly now: () => number;

  constructor(
    private readonly options: {
      perWindow: number;
      windowMs: number;
      /** Addresses tracked at once; the oldest window is summarised early past it (bounded memory). */
      maxAddresses: number;
      summarise(summary: TAuthFailureSummary): void;
      now?: () => number;
    },
  ) {
    this.now = options.now ?? Date.now;
  }

  /** A login from `clientAddr` failed: whether its event is recorded one by one. */
  admit(clientAddr: string): boolean {
    const now = this.now();
    let window = this.windows.get(clientAddr);
    if (window && now - window.startedAt >= this.options.windowMs) {
      this.end(clientAddr, window);
      window = undefined;
    }
    if (!window) {
      if (this.windows.size >= this.options.maxAddresses) {
        const [oldest, first] = this.windows.entries().next().value as [string, TWindow];
        this.end(oldest, first);
      }
      window = { startedAt: now, failures: 0 };
      this.windows.set(clientAddr, window);
    }
    window.failures += 1;
    return window.failures <= this.options.perWindow;
  }

  /** Ends the windows that are over (all of them with `all`), summarising what they did not record. */
  flush(all = false): void {
    const now = this.now();
    for (const [clientAddr, window] of this.windows)
      if (all || now - window.startedAt >= this.options.windowMs) this.end(clientAddr, window);
  }

  private end(clientAddr: string, window: TWindow): void {
    this.windows.delete(clientAddr);
    const suppressed = window.failures - this.options.perWindow;
    if (suppressed > 0) this.options.summarise({ clientAddr, suppressed, windowMs: this.options.windowMs });
  }
}
