// The protocol's client duties over the tab's socket (connection.js): catch-up by seq after
// every hello, gap filling, heads, and resending unacknowledged sends.
import { fetchMessages, listRooms } from "./api.js";
import { backoffDelay } from "./backoff.js";
import { SESSION_ENDED } from "./connection.js";
import { SocketHistory, SocketLost } from "./sockethistory.js";

const READ_DEBOUNCE_MS = 500;
const CATCH_UP_LIMIT = 200;
const OLDER_LIMIT = 50;
const MAX_CATCH_UP_PAGES = 100;
// Sends one socket carries unanswered at once, the rest going as acks and errors come back:
// the server closes a socket that leaves 32 frames unanswered (1008), and a tab back from
// a long time offline may hold more messages than that.
const MAX_SENDS_IN_FLIGHT = 16;

/**
 * The client's duties from docs/protocol.md. Catch-up (after a hello, a gap or heads) comes
 * over the socket, paired with its answers by request_id (sockethistory.js): a storm of tabs
 * coming back is read once per room. The first page of a room and older pages come over
 * HTTP, which does not wait for the socket.
 * Events: "synced" (a hello was applied), "signedout", "problem" (detail {room, error}),
 * "refused" (detail {kind, error}: an edit, delete, react or pin frame was answered by an error),
 * "typing" (detail {room, user}: someone else is typing there) and "live" (detail {message}:
 * a live `message` frame brought a message this tab had not counted yet; never for history
 * fetched on catch-up, so a notification is only ever about something new), "member"
 * (detail {room, user, role}: someone joined, changed role or left; role null when gone) and
 * "sendrefused" (detail {room, error}: the server refused one of this tab's sends).
 */
export class Sync extends EventTarget {
  openRoom = null;
  #connection;
  #store;
  #history;
  #queues = new Map();
  #revs = new Map(); // room id → the revision its held messages are known to be current to
  #catchUpTo = new Map(); // room id → the highest seq a catch-up waiting to start must reach
  #unsentReads = new Map();
  #readTimer = 0;
  // Edits, deletions, reactions and pins awaiting their answer: request_id → kind.
  #requests = new Map();
  #nextRequest = 0;
  // Sends answered `unavailable`: client_msg_id → resends so far (for the backoff).
  #resends = new Map();
  // This socket's sends awaiting their ack or error, and sends waiting out a backoff.
  #unanswered = new Set();
  #backingOff = new Set();
  // What this tab last said of its user's activity; a new socket starts out "active".
  #activity = "active";

  constructor({ connection, store }) {
    super();
    this.#connection = connection;
    this.#store = store;
    this.#history = new SocketHistory(connection);
    connection.addEventListener("frame", (event) => this.#handle(event.detail));
    connection.addEventListener("lost", (event) => {
      // Their answers went with the socket; the events of what did happen come on catch-up.
      this.#requests.clear();
      this.#unanswered.clear();
      // Refused before hello, or closed because the session ended (4401): signed out?
      if (!event.detail.heard || event.detail.code === SESSION_ENDED) this.#checkSignedIn();
    });
    // A read still waiting for its debounce would be lost with the page.
    window.addEventListener("pagehide", () => this.#flushReads());
  }

  /**
   * Shows a message as pending at once and sends it now or after the next hello.
   * `replyTo` (a quote of the message answered, or null), `attachments` (uploads) and
   * `thread` ({root, alsoInRoom}: a reply in a thread, or null) travel with every retry.
   */
  send(roomId, body, replyTo = null, attachments = [], thread = null) {
    this.#store.addPending(roomId, body, replyTo, attachments, thread);
    this.#sendWaiting();
  }

  // Changes to sent messages: sent only while connected (false otherwise), never queued,
  // since the store changes when the server's event comes back, not before.

  edit(messageId, body) {
    return this.#request("edit", { type: "edit", message: messageId, body });
  }

  remove(messageId) {
    return this.#request("delete", { type: "delete", message: messageId });
  }

  react(messageId, emoji, on) {
    return this.#request("react", { type: "react", message: messageId, emoji, on });
  }

  /** Pins (`on`) or unpins a message of the room; every member's tabs hear `pins`. */
  pin(roomId, messageId, on) {
    return this.#request("pin", { type: "pin", room: roomId, message: messageId, on });
  }

  /** Tells the room the user is typing (best effort: no answer, nothing retried). */
  typing(roomId) {
    return this.#connection.send({ type: "typing", room: roomId });
  }

  /**
   * Reports the user's activity ("active" or "idle"), only when it changes. A socket that
   * drops takes its state along: the next hello re-sends "idle" (see #hello).
   */
  reportActivity(status) {
    if (status === this.#activity) return;
    this.#activity = status;
    this.#connection.send({ type: "presence", status });
  }

  #request(kind, frame) {
    this.#nextRequest += 1;
    const requestId = `${kind}-${this.#nextRequest}`;
    if (!this.#connection.send({ ...frame, request_id: requestId })) return false;
    this.#requests.set(requestId, kind);
    return true;
  }

  /** Retries with the same client_msg_id, so the server stores it at most once. */
  retry(id) {
    if (this.#store.retryPending(id)) this.#sendWaiting();
  }

  /** Moves the read pointer at once here and, debounced, on the server. */
  read(roomId, seq) {
    if (!this.#store.applyRead(roomId, seq)) return;
    this.#unsentReads.set(roomId, seq);
    clearTimeout(this.#readTimer);
    this.#readTimer = setTimeout(() => this.#flushReads(), READ_DEBOUNCE_MS);
  }

  /** The newest page of a room, once; live messages are kept while it loads. */
  loadNewest(roomId) {
    this.#store.ensureLog(roomId);
    return this.#queue(roomId, "newest", async () => {
      if (this.#store.log(roomId).loaded) return;
      // Taken before the fetch: the page holds at least the state of this revision.
      const rev = this.#store.room(roomId)?.last_rev ?? 0;
      const page = await fetchMessages(roomId);
      this.#addPage(roomId, page);
      this.#revs.set(roomId, rev);
    });
  }

  /**
   * Edits, deletions and reactions made while this tab was away: the room's last_rev
   * (from hello) is past the revision its messages were loaded or brought up to, so
   * fetch what changed since and put it in place (replacing is idempotent).
   */
  catchUpChanges(roomId) {
    return this.#queue(roomId, "changes", async () => {
      const since = this.#revs.get(roomId);
      const target = this.#store.room(roomId)?.last_rev ?? 0;
      if (since === undefined || target <= since) return;
      let changedAfter = since;
      for (let pages = 0; pages < MAX_CATCH_UP_PAGES; pages += 1) {
        const page = await this.#history.fetch(roomId, { changedAfter, limit: CATCH_UP_LIMIT });
        for (const message of page.messages) this.#store.updateMessage(message);
        if (!page.has_more || !page.messages.length) break;
        changedAfter = page.messages[page.messages.length - 1].rev;
      }
      this.#revs.set(roomId, Math.max(this.#revs.get(roomId) ?? 0, target));
    });
  }

  loadOlder(roomId) {
    return this.#queue(roomId, "older", async () => {
      const log = this.#store.log(roomId);
      if (!log?.hasOlder) return;
      const page = await fetchMessages(roomId, { before: log.floor, limit: OLDER_LIMIT });
      this.#addPage(roomId, page);
    });
  }

  /**
   * Fetches after the highest contiguous seq until nothing more is there. `head` is the seq
   * that asked for it (hello's, a heads frame's, a message past a gap; unknown: fetch): a
   * catch-up queued behind another that already brought the room that far fetches nothing.
   */
  catchUp(roomId, head = Infinity) {
    this.#catchUpTo.set(roomId, Math.max(this.#catchUpTo.get(roomId) ?? 0, head));
    return this.#queue(roomId, "after", async () => {
      // Heads asked for after this point queue another catch-up.
      const target = this.#catchUpTo.get(roomId);
      this.#catchUpTo.delete(roomId);
      for (let pages = 0; pages < MAX_CATCH_UP_PAGES; pages += 1) {
        const log = this.#store.log(roomId);
        if (!log?.loaded) return;
        const after = log.contiguous;
        if (pages === 0 && after >= Math.max(target, log.highest)) return;
        const page = await this.#history.fetch(roomId, { after, limit: CATCH_UP_LIMIT });
        this.#store.addMessages(roomId, page.messages);
        if (!page.has_more) return;
      }
    });
  }

  /**
   * Loads history back to `seq` (a reply's parent): the page ending at it, then what lies
   * between it and the oldest message held, so the log stays gap-free from its floor.
   */
  loadAround(roomId, seq) {
    return this.#queue(roomId, "around", async () => {
      const log = this.#store.log(roomId);
      if (!log?.loaded || log.floor <= seq) return;
      const page = await fetchMessages(roomId, { before: seq + 1, limit: OLDER_LIMIT });
      const messages = [...page.messages];
      let after = seq;
      for (let pages = 0; after < log.floor - 1; pages += 1) {
        if (pages >= MAX_CATCH_UP_PAGES) throw new Error("too much history to load");
        const limit = Math.min(CATCH_UP_LIMIT, log.floor - 1 - after);
        const between = await fetchMessages(roomId, { after, limit });
        if (!between.messages.length) break;
        messages.push(...between.messages);
        after = between.messages[between.messages.length - 1].seq;
      }
      this.#addPage(roomId, { messages, has_more: page.has_more });
    });
  }

  #addPage(roomId, page) {
    const first = page.has_more && page.messages.length ? page.messages[0].seq : 1;
    this.#store.addMessages(roomId, page.messages, { floor: first });
    this.#fillGap(roomId);
  }

  #fillGap(roomId) {
    const log = this.#store.log(roomId);
    if (log?.loaded && log.highest > log.contiguous) this.catchUp(roomId, log.highest);
  }

  #handle(frame) {
    if (this.#history.handle(frame)) return;
    if (frame.request_id && frame.type !== "error") this.#requests.delete(frame.request_id);
    switch (frame.type) {
      case "hello":
        this.#hello(frame);
        break;
      case "message":
        this.#live(frame.message);
        break;
      case "ack":
        this.#unanswered.delete(frame.client_msg_id);
        this.#sendWaiting();
        this.#store.addMessages(frame.message.room, [frame.message]);
        this.#fillGap(frame.message.room);
        break;
      case "heads":
        this.#heads(frame.rooms);
        break;
      case "room":
        this.#store.upsertRoom(frame.room, { joined: true });
        break;
      case "room.removed":
        this.#store.removeRoom(frame.room);
        break;
      case "room.updated":
        this.#store.updateRoomDetails(frame.room, { name: frame.name, topic: frame.topic });
        break;
      case "member":
        this.dispatchEvent(
          new CustomEvent("member", {
            detail: { room: frame.room, user: frame.user, role: frame.role },
          }),
        );
        break;
      case "read":
        if (frame.user === this.#store.me) this.#store.applyRead(frame.room, frame.seq);
        break;
      case "message.updated":
        this.#store.updateMessage(frame.message);
        break;
      case "message.deleted":
        this.#store.deleteMessage(frame.room, frame.id, frame.seq);
        break;
      case "reaction":
        this.#store.applyReaction(frame.room, frame.message, frame.emoji, frame.user, frame.on);
        break;
      case "pins":
        this.#store.setPins(frame.room, frame.pins);
        break;
      case "presence":
        this.#store.applyPresence(frame.user, frame.status, frame.last_seen);
        break;
      case "typing":
        // The typist's own sockets hear it too.
        if (frame.user?.id !== this.#store.me) {
          this.dispatchEvent(
            new CustomEvent("typing", { detail: { room: frame.room, user: frame.user } }),
          );
        }
        break;
      case "error":
        this.#error(frame);
        break;
      // "pong" needs no handling: any frame keeps the connection alive.
    }
  }

  #live(message) {
    const room = this.#store.room(message.room);
    // Past the room's head: not held, not counted, not fetched by a catch-up before it.
    const fresh = room !== null && message.seq > room.last_seq && !message.deleted;
    this.#store.addMessages(message.room, [message], { live: true });
    this.#fillGap(message.room);
    if (fresh) this.dispatchEvent(new CustomEvent("live", { detail: { message } }));
  }

  #hello(frame) {
    this.#store.setRooms(frame.rooms);
    this.#store.setPresence(frame.presence);
    // The server counts a new socket as active.
    if (this.#activity === "idle") this.#connection.send({ type: "presence", status: "idle" });
    for (const roomId of this.#store.loadedRooms()) {
      // Hello's heads were read after this socket subscribed: a room whose messages are
      // held up to its head misses nothing (a first page loaded while connecting).
      const head = this.#store.room(roomId)?.last_seq ?? Infinity;
      if (head > this.#store.log(roomId).contiguous) this.catchUp(roomId, head);
      this.catchUpChanges(roomId);
    }
    if (this.openRoom !== null && !this.#store.log(this.openRoom)?.loaded) {
      this.loadNewest(this.openRoom);
    }
    // A new socket sends every pending message again, those waiting out a backoff too.
    this.#backingOff.clear();
    this.#sendWaiting();
    this.#flushReads();
    this.dispatchEvent(new CustomEvent("synced"));
  }

  #heads(heads) {
    for (const [key, head] of Object.entries(heads)) {
      const roomId = Number(key);
      const log = this.#store.log(roomId);
      if (log?.loaded) {
        if (head > log.contiguous) this.catchUp(roomId, head);
      } else {
        this.#store.applyHead(roomId, head);
      }
    }
    // A first page that failed to load gets another try.
    if (this.openRoom !== null && !this.#store.log(this.openRoom)?.loaded) {
      this.loadNewest(this.openRoom);
    }
  }

  #error(frame) {
    if (frame.client_msg_id) this.#unanswered.delete(frame.client_msg_id);
    const kind = frame.request_id ? this.#requests.get(frame.request_id) : undefined;
    if (kind) {
      this.#requests.delete(frame.request_id);
      this.dispatchEvent(new CustomEvent("refused", { detail: { kind, error: frame } }));
    } else if (frame.client_msg_id && this.#store.hasPending(frame.client_msg_id)) {
      const pending = this.#store.allPending().find((p) => p.id === frame.client_msg_id);
      if (frame.code === "unavailable") {
        this.#resendLater(pending);
        return;
      }
      this.#store.failPending(pending.id, frame.detail);
      this.dispatchEvent(new CustomEvent("sendrefused", { detail: { room: pending.room, error: frame } }));
      this.#sendWaiting();
    } else {
      this.#problem(null, frame);
    }
  }

  /**
   * Nothing was stored (the server could not reach its database): the same frame goes again
   * after a backoff, still pending to the user, until it is acked or refused for good. A
   * reconnect meanwhile resends it with the hello anyway.
   */
  #resendLater(pending) {
    const attempt = this.#resends.get(pending.id) ?? 0;
    this.#resends.set(pending.id, attempt + 1);
    this.#backingOff.add(pending.id);
    this.#sendWaiting();
    setTimeout(() => {
      this.#backingOff.delete(pending.id);
      const current = this.#store.allPending().find((p) => p.id === pending.id);
      if (current?.state === "sending") this.#sendWaiting();
      else this.#resends.delete(pending.id);
    }, backoffDelay(attempt));
  }

  /** Sends the pending messages this socket does not carry yet, oldest first, while the
   * window has room (a send waiting out a backoff waits). */
  #sendWaiting() {
    for (const pending of this.#store.allPending()) {
      if (this.#unanswered.size >= MAX_SENDS_IN_FLIGHT) return;
      const waiting = pending.state === "sending" && !this.#unanswered.has(pending.id);
      if (!waiting || this.#backingOff.has(pending.id)) continue;
      if (!this.#connection.send(this.#sendFrame(pending))) return;
      this.#unanswered.add(pending.id);
    }
  }

  #sendFrame(pending) {
    const frame = { type: "send", room: pending.room, body: pending.body, client_msg_id: pending.id };
    if (pending.reply_to) frame.reply_to = pending.reply_to.id;
    if (pending.attachments?.length) frame.attachments = pending.attachments.map((a) => a.id);
    if (pending.thread_root) {
      frame.thread_root = pending.thread_root;
      frame.also_in_room = pending.also_in_room;
    }
    return frame;
  }

  #flushReads() {
    for (const [room, seq] of this.#unsentReads) {
      if (this.#connection.send({ type: "read", room, seq })) this.#unsentReads.delete(room);
    }
  }

  /** Runs a room's history requests one at a time; a kind already waiting is not queued twice. */
  #queue(roomId, kind, task) {
    let queue = this.#queues.get(roomId);
    if (queue) {
      queue.waiting.set(kind, task);
      return queue.done;
    }
    queue = { waiting: new Map([[kind, task]]) };
    this.#queues.set(roomId, queue);
    queue.done = (async () => {
      for (const [next, run] of queue.waiting) {
        queue.waiting.delete(next);
        try {
          await run();
        } catch (error) {
          // A socket lost mid-catch-up is no problem to show: its next hello catches up.
          if (!(error instanceof SocketLost)) this.#problem(roomId, error);
        }
      }
      this.#queues.delete(roomId);
    })();
    return queue.done;
  }

  /** A handshake refused before any frame: find out whether the session has ended. */
  async #checkSignedIn() {
    try {
      await listRooms();
    } catch (error) {
      if (error.status === 401) {
        this.#connection.stop();
        this.dispatchEvent(new CustomEvent("signedout"));
      }
    }
  }

  #problem(room, error) {
    this.dispatchEvent(new CustomEvent("problem", { detail: { room, error } }));
  }
}
