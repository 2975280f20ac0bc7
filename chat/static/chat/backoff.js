// How long a tab waits before trying again (reconnecting, resending): exponential backoff
// with full jitter. A uniform draw over the whole window spreads the tabs of a storm (a
// worker died: all its sockets lost at once) evenly over it, while the first window is
// short, so a lone reconnect is not held up. docs/protocol.md, "The client's duties".

export const FIRST_WINDOW_MS = 1_000;
export const MAX_WINDOW_MS = 30_000;

/** Wait before attempt `attempt` (0-based): uniform in [0, min(30 s, 1 s × 2^attempt)). */
export function backoffDelay(attempt, random = Math.random) {
  const window = Math.min(MAX_WINDOW_MS, FIRST_WINDOW_MS * 2 ** Math.max(0, attempt));
  return Math.floor(random() * window);
}
