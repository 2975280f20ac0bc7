// The tab's one WebSocket: it reopens itself with backoff (full jitter), pings while idle and
// tells a dead socket by its silence. What the chat does over it is sync.js.
import { backoffDelay } from "./backoff.js";

// The server closes with this when the socket's session ended (docs/protocol.md).
export const SESSION_ENDED = 4401;
const PING_EVERY_MS = 20_000;
const DEAD_AFTER_MS = 45_000;
const WATCH_EVERY_MS = 5_000;
// Close code 1012 (service restart): a server stopping on purpose. Reconnect at once (behind
// a proxy, to another worker), spread over this much so its sockets do not all come together.
const SERVICE_RESTART = 1012;
const RESTART_SPREAD_MS = 250;

export function socketUrl(path, location = window.location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${path}`;
}

/**
 * One WebSocket that reopens itself. Events: "frame" (a parsed frame), "state"
 * (this.state changed: connecting, connected, waiting with retryAt, offline, stopped)
 * and "lost" (detail.heard: whether the socket ever delivered a frame; detail.code: the
 * close code, when the server closed it).
 */
export class Connection extends EventTarget {
  state = { name: "connecting", retryAt: 0 };
  #url;
  #socket = null;
  #attempt = 0;
  #retryTimer = 0;
  #watchTimer = 0;
  #lastFrameAt = 0;
  #lastPingAt = 0;
  #heard = false;

  constructor(url) {
    super();
    this.#url = url;
    window.addEventListener("online", () => this.reconnectNow());
    window.addEventListener("offline", () => {
      if (this.state.name === "stopped") return;
      this.#close();
      this.#setState("offline");
    });
  }

  start() {
    this.#open();
  }

  /** Sends a frame if the server has greeted this socket; false otherwise. */
  send(frame) {
    if (this.state.name !== "connected") return false;
    this.#socket.send(JSON.stringify(frame));
    return true;
  }

  reconnectNow() {
    if (["connected", "connecting", "stopped"].includes(this.state.name)) return;
    this.#open();
  }

  stop() {
    this.#close();
    this.#setState("stopped");
  }

  #open() {
    this.#close();
    if (!navigator.onLine) {
      this.#setState("offline");
      return;
    }
    this.#setState("connecting");
    const socket = new WebSocket(this.#url);
    this.#socket = socket;
    this.#heard = false;
    this.#lastFrameAt = Date.now();
    socket.addEventListener("message", (event) => this.#receive(event.data));
    socket.addEventListener("close", (event) => {
      if (this.#socket === socket) this.#lost(event.code);
    });
    // Also bounds a handshake that hangs: no frame for DEAD_AFTER_MS means dead.
    this.#watchTimer = setInterval(() => this.#watch(), WATCH_EVERY_MS);
  }

  #receive(data) {
    this.#lastFrameAt = Date.now();
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!this.#heard) {
      // The first frame is hello: the handshake worked, so the backoff starts over.
      this.#heard = true;
      this.#attempt = 0;
      this.#lastPingAt = Date.now();
      this.#setState("connected");
    }
    this.dispatchEvent(new CustomEvent("frame", { detail: frame }));
  }

  #watch() {
    const now = Date.now();
    if (now - this.#lastFrameAt > DEAD_AFTER_MS) {
      this.#lost();
    } else if (this.state.name === "connected" && now - this.#lastPingAt >= PING_EVERY_MS) {
      this.#lastPingAt = now;
      this.send({ type: "ping" });
    }
  }

  #lost(code = null) {
    const heard = this.#heard;
    this.#close();
    this.dispatchEvent(new CustomEvent("lost", { detail: { heard, code } }));
    if (this.state.name === "stopped") return;
    if (!navigator.onLine) {
      this.#setState("offline");
      return;
    }
    let delay = Math.round(Math.random() * RESTART_SPREAD_MS);
    if (code !== SERVICE_RESTART) {
      delay = backoffDelay(this.#attempt);
      this.#attempt += 1;
    }
    this.#retryTimer = setTimeout(() => this.#open(), delay);
    this.#setState("waiting", Date.now() + delay);
  }

  /** Forgets the current socket without waiting for a dead peer's closing handshake. */
  #close() {
    clearTimeout(this.#retryTimer);
    clearInterval(this.#watchTimer);
    const socket = this.#socket;
    this.#socket = null;
    if (socket && socket.readyState !== WebSocket.CLOSED) socket.close();
  }

  #setState(name, retryAt = 0) {
    this.state = { name, retryAt };
    this.dispatchEvent(new CustomEvent("state", { detail: this.state }));
  }
}
