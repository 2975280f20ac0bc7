// Client state: the rooms, each room's messages by seq, and sends awaiting their ack.
// No DOM and no network here. Events:
//   "rooms"    the room list, an order, a badge or a room's details changed;
//   "messages" detail {room, added, live, updated, changed}: a room's timeline changed
//              (`updated`: messages held were edited, deleted or reacted to; `changed`
//              lists their new versions, with the replies whose quote of them changed);
//   "pending"  detail {room}: a room's unacknowledged sends changed;
//   "unheld"   detail {room, id, update}: a message not held (a thread reply loaded by the
//              thread panel only) was edited, deleted or reacted to: `update(message)`
//              gives its new version, or null when nothing changes;
//   "presence" detail {user}: someone's status changed (user null: the whole table, on hello).
// (A quote's text is read from its parent's html by richtext.js, in an inert document.)
import { firstLineOf } from "./richtext.js";
import { inTimeline } from "./threadmarks.js";

/** One room's messages, kept by seq (the protocol's only cursor). */
export class RoomLog {
  #bySeq = new Map();
  #seqById = new Map();
  #sorted = null;
  // Lowest seq from which every message up to `contiguous` is held; null until a page is loaded.
  floor = null;
  contiguous = 0;

  get loaded() {
    return this.floor !== null;
  }

  get hasOlder() {
    return this.loaded && this.floor > 1;
  }

  /** The highest seq held (0 when none): held messages past `contiguous` mean a gap. */
  get highest() {
    const list = this.messages();
    return list.length ? list[list.length - 1].seq : 0;
  }

  messages() {
    this.#sorted ??= [...this.#bySeq.values()].sort((a, b) => a.seq - b.seq);
    return this.#sorted;
  }

  /** Adds the messages not held yet; returns those. */
  add(messages) {
    const added = messages.filter((message) => !this.#bySeq.has(message.seq));
    for (const message of added) {
      this.#bySeq.set(message.seq, message);
      this.#seqById.set(message.id, message.seq);
    }
    if (added.length) this.#sorted = null;
    this.#advance();
    return added;
  }

  get(seq) {
    return this.#bySeq.get(seq) ?? null;
  }

  byId(id) {
    const seq = this.#seqById.get(id);
    return seq === undefined ? null : this.get(seq);
  }

  /** Puts a changed version of a held message in its place (same seq and id); true if held. */
  replace(message) {
    const held = this.#bySeq.get(message.seq);
    if (!held || held.id !== message.id) return false;
    this.#bySeq.set(message.seq, message);
    this.#sorted = null;
    return true;
  }

  /** History is complete from `seq` up to what the last page held (seqs have no gaps). */
  lowerFloor(seq) {
    this.floor = this.floor === null ? seq : Math.min(this.floor, seq);
    this.#advance();
  }

  #advance() {
    if (!this.loaded) return;
    let seq = Math.max(this.contiguous, this.floor - 1);
    while (this.#bySeq.has(seq + 1)) seq += 1;
    this.contiguous = seq;
  }
}

const PENDING_KEY = "parley:pending:";
const EXCERPT_CHARS = 120;

/** What a reply quotes of its parent ({html, body}): the first line of the text it
 * shows, as the server cuts it. */
export function excerptOf(parent) {
  return [...firstLineOf(parent.html, parent.body)].slice(0, EXCERPT_CHARS).join("");
}

/** A message as a tombstone: its seq stays, its text, mentions and reactions go. */
function tombstone(message) {
  return { ...message, body: "", html: "", deleted: true, mentions: [], reactions: [] };
}

const mentionsOf = (message) => message.mentions ?? [];

const PRESENCE_STATUSES = new Set(["online", "idle", "offline"]);

export class Store extends EventTarget {
  #rooms = new Map();
  #logs = new Map();
  #pending = new Map();
  // User id → {status, last_seen}: the people whose status the server tells us.
  #presence = new Map();
  #storage;

  constructor(userId, storage = window.sessionStorage) {
    super();
    this.me = userId;
    this.#storage = storage;
    for (const pending of this.#loadPending()) this.#pending.set(pending.id, pending);
  }

  // Rooms.

  room(id) {
    return this.#rooms.get(id) ?? null;
  }

  /** The rooms the user belongs to, most recently active first. */
  memberRooms() {
    return [...this.#rooms.values()]
      .filter((room) => room.role !== null)
      .sort((a, b) => b.activity - a.activity);
  }

  totalUnread() {
    return this.memberRooms().reduce((sum, room) => sum + room.unread, 0);
  }

  /** The `hello` list is the whole truth about membership; previews of public rooms stay. */
  setRooms(rooms) {
    const listed = new Set(rooms.map((room) => room.id));
    for (const [id, room] of this.#rooms) {
      if (room.role !== null && !listed.has(id)) this.#rooms.delete(id);
    }
    for (const room of rooms) this.#put(room, false);
    this.#emit("rooms");
  }

  /** A room frame or an API answer; `joined` puts a room without messages on top. */
  upsertRoom(room, { joined = false } = {}) {
    this.#put(room, joined);
    this.#emit("rooms");
  }

  /** A `room.updated` event: a group room's new name and topic. */
  updateRoomDetails(id, { name, topic }) {
    const room = this.room(id);
    if (!room || (room.name === name && room.topic === topic)) return;
    room.name = name;
    room.topic = topic;
    this.#emit("rooms");
  }

  /** A `pins` frame: the room's whole list of pinned messages, newest pin first. */
  setPins(id, pins) {
    const room = this.room(id);
    if (!room) return;
    room.pins = pins;
    this.#emit("rooms");
  }

  removeRoom(id) {
    if (this.#rooms.delete(id)) this.#emit("rooms");
  }

  /** A `heads` entry for a room whose messages are not loaded: count what is new. */
  applyHead(id, seq) {
    const room = this.room(id);
    if (!room || seq <= room.last_seq) return;
    room.unread += seq - room.last_seq;
    room.last_seq = seq;
    this.#emit("rooms");
  }

  /** The user's read pointer moved (here or in another tab); true when it moved forward. */
  applyRead(id, seq) {
    const room = this.room(id);
    if (!room || seq <= room.last_read_seq) return false;
    room.last_read_seq = seq;
    this.#recountUnread(room);
    this.#emit("rooms");
    return true;
  }

  #put(room, joined) {
    const previous = this.#rooms.get(room.id);
    // A room without messages: a new membership goes on top, a known room keeps its place
    // (a room frame also says that a member's notification level or role changed).
    const fallback = joined && !previous?.role ? Date.now() : (previous?.activity ?? 0);
    const merged = {
      last_message: null,
      ...previous,
      ...room,
      activity: room.last_message_at ? Date.parse(room.last_message_at) : fallback,
    };
    // A snapshot can be older than events already applied (a `room` frame for a
    // notification level, built before a read or a message that overtook it): within one
    // membership the read pointer and the head only move forward, and the counts follow.
    if (previous?.role && room.role) {
      const ahead =
        previous.last_read_seq > room.last_read_seq || previous.last_seq > room.last_seq;
      merged.last_read_seq = Math.max(previous.last_read_seq, room.last_read_seq);
      merged.last_seq = Math.max(previous.last_seq, room.last_seq);
      if (ahead) {
        merged.unread = previous.unread;
        merged.unread_mentions = previous.unread_mentions;
        this.#recountUnread(merged);
      }
    }
    this.#rooms.set(room.id, merged);
  }

  /** Recounts unread messages and mentions from what is held; true when either changed. */
  #recountUnread(room) {
    const log = this.log(room.id);
    const before = `${room.unread}/${room.unread_mentions}`;
    room.unread_mentions ??= 0;
    if (room.last_read_seq >= room.last_seq) {
      room.unread = 0;
      room.unread_mentions = 0;
    } else if (log?.loaded && log.floor <= room.last_read_seq + 1) {
      // Like the server: others' messages after the read pointer, tombstones left out.
      const unread = log
        .messages()
        .filter((m) => m.seq > room.last_read_seq && this.#countsUnread(m) && !m.deleted);
      room.unread = unread.length;
      room.unread_mentions = unread.filter((m) => mentionsOf(m).includes(this.me)).length;
    } else {
      room.unread = Math.min(room.unread, room.last_seq - room.last_read_seq);
      room.unread_mentions = Math.min(room.unread_mentions, room.unread);
    }
    return before !== `${room.unread}/${room.unread_mentions}`;
  }

  /** Someone else's message the timeline shows, or a thread reply that mentions the user. */
  #countsUnread(message) {
    if (message.author.id === this.me) return false;
    return inTimeline(message) || mentionsOf(message).includes(this.me);
  }

  // Presence.

  /** {status: "online" | "idle" | "offline", last_seen: ISO or null}, or null if unknown. */
  presenceOf(userId) {
    return this.#presence.get(userId) ?? null;
  }

  /** The `hello` table ({"<user id>": {status, last_seen}}): the whole truth on connect. */
  setPresence(table) {
    this.#presence.clear();
    for (const [key, value] of Object.entries(table ?? {})) {
      if (PRESENCE_STATUSES.has(value?.status)) {
        this.#presence.set(Number(key), { status: value.status, last_seen: value.last_seen ?? null });
      }
    }
    this.#emit("presence", { user: null });
  }

  /** A `presence` event; heard once per shared room, so a repeat changes nothing. */
  applyPresence(userId, status, lastSeen = null) {
    if (!PRESENCE_STATUSES.has(status)) return;
    const held = this.#presence.get(userId);
    const last_seen = lastSeen ?? null;
    if (held?.status === status && held.last_seen === last_seen) return;
    this.#presence.set(userId, { status, last_seen });
    this.#emit("presence", { user: userId });
  }

  // Messages.

  log(id) {
    return this.#logs.get(id) ?? null;
  }

  /** Start holding a room's messages (live ones are kept while its first page loads). */
  ensureLog(id) {
    if (!this.#logs.has(id)) this.#logs.set(id, new RoomLog());
    return this.#logs.get(id);
  }

  /** Ids of the known rooms whose history is loaded: the ones to catch up. */
  loadedRooms() {
    return [...this.#logs]
      .filter(([id, log]) => log.loaded && this.#rooms.has(id))
      .map(([id]) => id);
  }

  /**
   * Messages from any source (ack, live, fetch): deduplicated by seq, counted once.
   * `floor` marks a history page: the room's history is complete from that seq.
   */
  addMessages(roomId, messages, { live = false, floor } = {}) {
    const log = floor === undefined ? this.log(roomId) : this.ensureLog(roomId);
    const added = log ? log.add(messages) : [];
    if (floor !== undefined) log.lowerFloor(floor);
    const roomsChanged = this.#account(roomId, messages);
    const pendingChanged = this.#settle(messages);
    if (added.length || floor !== undefined) this.#emit("messages", { room: roomId, added, live });
    if (pendingChanged) this.#emit("pending", { room: roomId });
    if (roomsChanged) this.#emit("rooms");
    return added;
  }

  /** Moves the room's head and unread count past messages it has not counted yet. */
  #account(roomId, messages) {
    const room = this.room(roomId);
    if (!room || !messages.length) return false;
    const newest = messages.reduce((a, b) => (b.seq > a.seq ? b : a));
    if (newest.seq <= room.last_seq) {
      if (room.last_message?.seq === newest.seq || newest.seq !== room.last_seq) return false;
      room.last_message = newest;
      return true;
    }
    for (const message of messages) {
      if (message.seq <= room.last_seq) continue;
      // Seqs skipped over are unknown messages: count them as unread until fetched.
      const unseen = message.seq - room.last_seq - 1;
      const theirs = this.#countsUnread(message);
      room.unread += unseen + (theirs ? 1 : 0);
      if (theirs && mentionsOf(message).includes(this.me)) {
        room.unread_mentions = (room.unread_mentions ?? 0) + 1;
      }
      room.last_seq = message.seq;
    }
    room.last_message = newest;
    room.last_message_at = newest.created_at;
    room.activity = Date.parse(newest.created_at);
    this.#recountUnread(room);
    return true;
  }

  // Changes to messages already sent: edits, deletions, reactions. Each event carries
  // the new state, so applying one twice changes nothing.

  /** A `message.updated` event: the edited message replaces the one held (by seq). */
  updateMessage(message) {
    this.#change(message.room, message.seq, message.id, () => message);
  }

  /** A `message.deleted` event: the message held becomes a tombstone in its place. */
  deleteMessage(roomId, id, seq) {
    this.#change(roomId, seq, id, (held) => (held.deleted ? null : tombstone(held)));
  }

  /** A `reaction` event: adds or removes one user under one emoji; no-op if already so. */
  applyReaction(roomId, messageId, emoji, userId, on) {
    const update = (message) => {
      if (message.deleted) return null;
      const reactions = message.reactions ?? [];
      const index = reactions.findIndex((reaction) => reaction.emoji === emoji);
      const users = index >= 0 ? reactions[index].users : [];
      if (users.includes(userId) === on) return null;
      const next = on ? [...users, userId] : users.filter((user) => user !== userId);
      const entry = { emoji, count: next.length, users: next };
      let changed;
      if (index < 0) changed = [...reactions, entry];
      else if (next.length) changed = reactions.with(index, entry);
      else changed = reactions.filter((_, i) => i !== index);
      return { ...message, reactions: changed };
    };
    const held = this.log(roomId)?.byId(messageId);
    if (held) this.#change(roomId, held.seq, messageId, update);
    else this.#emit("unheld", { room: roomId, id: messageId, update });
  }

  /**
   * Replaces the message at `seq` (if it is message `id`) with `update(held)`; null means
   * no change. Also keeps the room's preview and the quotes of replies to it current.
   */
  #change(roomId, seq, id, update) {
    const log = this.log(roomId);
    const room = this.room(roomId);
    let held = log?.get(seq) ?? null;
    if (held?.id !== id) held = null;
    const preview = room?.last_message?.seq === seq && room.last_message.id === id;
    const base = held ?? (preview ? room.last_message : null);
    if (!held) this.#emit("unheld", { room: roomId, id, update });
    const next = base ? update(base) : null;
    if (!next) return;
    let roomsChanged = false;
    if (preview) {
      room.last_message = next;
      roomsChanged = true;
    }
    if (held) {
      log.replace(next);
      const changed = [next, ...this.#refreshQuotes(log, next)];
      if (room && this.#recountUnread(room)) roomsChanged = true;
      this.#emit("messages", { room: roomId, added: [], live: false, updated: true, changed });
    }
    if (roomsChanged) this.#emit("rooms");
  }

  /** Replies held that quote `parent` show its new first line, or that it was deleted;
   * returns the replies changed. */
  #refreshQuotes(log, parent) {
    const replies = [];
    for (const message of log.messages()) {
      const quote = message.reply_to;
      if (quote?.id !== parent.id) continue;
      const excerpt = parent.deleted ? "" : excerptOf(parent);
      if (quote.excerpt === excerpt && quote.deleted === parent.deleted) continue;
      const reply = { ...message, reply_to: { ...quote, excerpt, deleted: parent.deleted } };
      log.replace(reply);
      replies.push(reply);
    }
    return replies;
  }

  // Pending sends, kept in sessionStorage so a reload does not lose them.

  pendingFor(roomId) {
    return [...this.#pending.values()]
      .filter((pending) => pending.room === roomId)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  allPending() {
    return [...this.#pending.values()];
  }

  /** `replyTo` is the quote of the message answered ({id, seq, author, excerpt}) or null;
   * `attachments` the uploads the message carries; `thread` {root, alsoInRoom} or null. */
  addPending(roomId, body, replyTo = null, attachments = [], thread = null) {
    const pending = {
      id: crypto.randomUUID(),
      room: roomId,
      body,
      reply_to: replyTo,
      attachments,
      thread_root: thread?.root ?? null,
      also_in_room: Boolean(thread?.alsoInRoom),
      createdAt: Date.now(),
      state: "sending",
      detail: "",
    };
    this.#pending.set(pending.id, pending);
    this.#pendingChanged(roomId);
    return pending;
  }

  /** True when the id is one of this tab's unacknowledged sends. */
  hasPending(id) {
    return this.#pending.has(id);
  }

  failPending(id, detail) {
    this.#updatePending(id, { state: "failed", detail });
  }

  retryPending(id) {
    return this.#updatePending(id, { state: "sending", detail: "" });
  }

  removePending(id) {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    this.#pendingChanged(pending.room);
  }

  #updatePending(id, changes) {
    const pending = this.#pending.get(id);
    if (!pending) return null;
    Object.assign(pending, changes);
    this.#pendingChanged(pending.room);
    return pending;
  }

  /** Drops the pending sends these messages confirm (an ack, an echo or a fetch). */
  #settle(messages) {
    let changed = false;
    for (const message of messages) {
      if (message.author.id === this.me && this.#pending.delete(message.client_msg_id)) {
        changed = true;
      }
    }
    if (changed) this.#savePending();
    return changed;
  }

  #pendingChanged(roomId) {
    this.#savePending();
    this.#emit("pending", { room: roomId });
  }

  #loadPending() {
    try {
      const saved = JSON.parse(this.#storage.getItem(PENDING_KEY + this.me) ?? "[]");
      return Array.isArray(saved) ? saved : [];
    } catch {
      return [];
    }
  }

  #savePending() {
    try {
      this.#storage.setItem(PENDING_KEY + this.me, JSON.stringify(this.allPending()));
    } catch {
      // Storage full or disabled: pending sends still live in memory for this page.
    }
  }

  #emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
