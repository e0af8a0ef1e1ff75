/**
 * Runs async tasks one after another. Appends to the audit hash chain take a global advisory lock anyway;
 * queueing them in-process keeps one replica from holding many pool connections waiting on that lock.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;

  /** Tasks queued or running. */
  get depth(): number {
    return this.queued;
  }

  run<T>(task: () => Promise<T>): Promise<T> {
    this.queued += 1;
    const result = this.tail.then(task);
    // The chain must survive a failed task; the caller still sees the failure through `result`.
    this.tail = result.then(
      () => this.queued--,
      () => this.queued--,
    );
    return result;
  }

  /** Resolves when everything queued so far has settled. */
  async idle(): Promise<void> {
    while (this.queued > 0) await this.tail;
  }
}
