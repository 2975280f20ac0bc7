// History pages over the tab's socket: `fetch` frames, each paired with the `messages` or
// `error` frame answering it by request_id (docs/protocol.md). Catch-up after a hello goes
// this way: when a deploy or a network blip brings every tab back at once, the server reads
// the page the tabs of a room ask for together once (chat/realtime/shared.py), where an HTTP
// request per tab runs Django's whole request stack each (docs/performance.md, "The
// reconnect storm").

// Fetches one socket has unanswered at once, the rest waiting their turn: well under the
// frames the server lets a socket leave unanswered (32) before it closes it, so a tab with
// many rooms to catch up never reaches that limit with its sends and requests beside them.
export const MAX_IN_FLIGHT = 8;

/** What a fetch fails with when its socket went before the answer came. */
export class SocketLost extends Error {
  constructor() {
    super("The connection was lost.");
    this.code = "lost";
    this.detail = this.message;
  }
}

/** An `error` frame answering a fetch, as the HTTP API's errors read (code, detail). */
export class FetchRefused extends Error {
  constructor(frame) {
    super(frame.detail);
    this.code = frame.code;
    this.detail = frame.detail;
  }
}

export class SocketHistory {
  #connection;
  #answering = new Map(); // request_id → {resolve, reject}
  #queued = [];
  #next = 0;

  /** `connection`: sends frames (send(frame) → false when not connected), fires "lost". */
  constructor(connection) {
    this.#connection = connection;
    connection.addEventListener("lost", () => this.#failAll());
  }

  /**
   * A page of the room's messages ({messages, has_more}, as the HTTP endpoint answers):
   * `after` a seq or `changedAfter` a revision, at most `limit`. Rejects with SocketLost when
   * the socket goes first (its next hello catches up again), FetchRefused for an `error`.
   */
  fetch(roomId, { after, changedAfter, limit }) {
    const frame = { type: "fetch", room: roomId, limit };
    if (after !== undefined) frame.after = after;
    if (changedAfter !== undefined) frame.changed_after = changedAfter;
    return new Promise((resolve, reject) => {
      this.#queued.push({ frame, resolve, reject });
      this.#sendQueued();
    });
  }

  /** Takes a frame answering one of these fetches (true), or leaves it to others (false). */
  handle(frame) {
    const asked = frame.request_id === undefined ? undefined : this.#answering.get(frame.request_id);
    if (!asked) return false;
    this.#answering.delete(frame.request_id);
    if (frame.type === "messages") asked.resolve(frame);
    else asked.reject(new FetchRefused(frame));
    this.#sendQueued();
    return true;
  }

  #sendQueued() {
    while (this.#answering.size < MAX_IN_FLIGHT && this.#queued.length) {
      const ask = this.#queued.shift();
      this.#next += 1;
      const requestId = `fetch-${this.#next}`;
      if (this.#connection.send({ ...ask.frame, request_id: requestId })) {
        this.#answering.set(requestId, ask);
      } else {
        ask.reject(new SocketLost());
      }
    }
  }

  #failAll() {
    const asks = [...this.#answering.values(), ...this.#queued];
    this.#answering.clear();
    this.#queued = [];
    for (const ask of asks) ask.reject(new SocketLost());
  }
}
