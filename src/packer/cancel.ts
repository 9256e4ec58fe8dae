/**
 * A cancellation that can be asked for more than once: the first request asks Packer to stop and
 * clean up, a second one means "stop now". (AbortSignal fires once, so it cannot say the second.)
 */
export class CancelRequest {
  private requests = 0;
  private readonly listeners = new Set<(count: number) => void>();

  /** How many times cancellation was requested so far. */
  get count(): number {
    return this.requests;
  }

  request(): void {
    this.requests += 1;
    for (const listener of [...this.listeners]) listener(this.requests);
  }

  /** Calls `listener` with the request count on each request; returns the unsubscribe. */
  onRequest(listener: (count: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/**
 * Turns SIGINT/SIGTERM into cancellation requests for as long as the returned disposer is not
 * called. While installed, the signals no longer kill this process: the build decides when to end.
 */
export function cancelOnSignals(
  cancel: CancelRequest,
  signals: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM"],
  target: NodeJS.Process = process,
): () => void {
  const handler = (): void => cancel.request();
  for (const s of signals) target.on(s, handler);
  return () => {
    for (const s of signals) target.off(s, handler);
  };
}
