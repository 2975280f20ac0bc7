// The conversation: the open room's messages, then its pending sends, with a divider
// before each day's first entry and an author's run of entries marked `continued`.
// Drawn incrementally: a message added, changed or acknowledged touches only its own
// node, its day's divider and the next entry's `continued` mark, never the whole list.
// A room opened with unread messages shows "New messages" above the first of them, and a
// control that jumps there while it is out of sight.
// Read to the bottom, only the newest messages stay in the page: the older ones are kept
// out of it (their nodes held, still kept up to date) and go back in above as the reader
// scrolls up, so a send costs the browser the same with 50 or 10,000 messages loaded.
import { MessageActions } from "./actions.js";
import { byId, el } from "./dom.js";
import { LOCALE, t } from "./i18n.js";
import { drawMessage, messageNode, permissionContext, permissionsOf } from "./message.js";
import { MessageMenu } from "./messagemenu.js";

const GROUP_WINDOW_MS = 5 * 60 * 1000;
const NEAR_TOP_PX = 240;
const NEAR_BOTTOM_PX = 48;
const FLASH_MS = 2000;
// With more than TRIM_ABOVE messages in the page and the reader at the bottom, all but
// the newest KEEP go out of it; scrolling near the top brings back REVEAL at a time.
const TRIM_ABOVE = 100;
const KEEP = 50;
const REVEAL = 50;
const whenIdle = window.requestIdleCallback ?? ((callback) => setTimeout(callback, 50));

const dayFormat = new Intl.DateTimeFormat(LOCALE, {
  weekday: "long",
  month: "long",
  day: "numeric",
});
const dayYearFormat = new Intl.DateTimeFormat(LOCALE, { dateStyle: "full" });

function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}`;
}

function dayLabel(date) {
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (dayKey(date) === dayKey(today)) return t("Today");
  if (dayKey(date) === dayKey(yesterday)) return t("Yesterday");
  return (date.getFullYear() === today.getFullYear() ? dayFormat : dayYearFormat).format(date);
}

/**
 * An entry continues its author's run: same day, same author (and the same "via", for a
 * webhook's), within the window.
 */
function continues(previous, entry) {
  return (
    Boolean(previous) &&
    previous.day === entry.day &&
    entry.author.id !== null &&
    previous.author.id === entry.author.id &&
    (previous.via ?? null) === (entry.via ?? null) &&
    entry.at - previous.at < GROUP_WINDOW_MS
  );
}

const pendingKey = (send) => `p:${send.id}:${send.state}`;

export class Timeline {
  #els;
  #ui;
  #me;
  #on;
  // The entries drawn, in order: the messages by seq, then the pending sends. Each is
  // {key, seq | pending, author, at, day, continued, node} and, for a message, the
  // message drawn and the permissions it was drawn with.
  #entries = [];
  #byKey = new Map();
  #messageCount = 0;
  // The first `#hidden` entries (the oldest messages) are out of the page. The divider
  // of the first entry in the page's day stays in, right before it.
  #hidden = 0;
  #trimQueued = false;
  // What the status line above the list last heard of the room's history.
  #history = { loaded: false, hasOlder: false };
  // Unread when the room was opened: {after: the last seq read, count, seen}, or null;
  // the divider goes before the first message after it that is someone else's.
  #unread = null;
  #unreadKey = null;
  #unreadNode;
  // Day key → {node: its divider, first: the day's first entry}.
  #days = new Map();
  // The permissions every message was last drawn for (permissionContext).
  #context = "";
  #stuckToBottom = true;
  // Nothing drawn since reset(): a room's failed sends are not announced on opening it.
  #fresh = true;
  // The picker, the editor and the message buttons (actions.js).
  #actions;

  /**
   * `ui` is the UiState, `me` {id, username, display_name, avatar}; `on` holds the callbacks:
   * announce(text), nearTop(), retry(id), discard(id), react(message, emoji, on),
   * reply(message), edit(message, body) → true when done, remove(message), pin(message, on),
   * jumpTo(seq), jumpToUnread(), focusComposer().
   */
  constructor({ ui, me, on }) {
    this.#els = byId([
      "conversation",
      "history-status",
      "messages",
      "jump-latest",
      "jump-unread",
    ]);
    this.#unreadNode = el("li", "unread-divider");
    this.#unreadNode.append(el("span", "unread-divider-label", t("New messages")));
    this.#ui = ui;
    this.#me = me;
    this.#on = on;
    this.#actions = new MessageActions({
      ui,
      me,
      on,
      entryOf: (key) => this.#byKey.get(key),
      show: (entry) => this.#show(entry),
      menu: new MessageMenu(),
    });
    this.#bind();
  }

  /** Another room opens: the timeline starts empty, pinned to the bottom. */
  reset() {
    this.#actions.closePicker();
    this.#actions.closeMenu();
    this.#ui.editing = null;
    this.#entries = [];
    this.#byKey.clear();
    this.#days.clear();
    this.#messageCount = 0;
    this.#hidden = 0;
    this.#unread = null;
    this.#unreadKey = null;
    this.#els["jump-unread"].hidden = true;
    this.#history = { loaded: false, hasOlder: false };
    this.#els.messages.replaceChildren();
    this.#els["jump-latest"].hidden = true;
    this.#stuckToBottom = true;
    this.#fresh = true;
  }

  /**
   * Brings the timeline up to date. state: {messages, pending, loaded, hasOlder}:
   * `messages` are those added or changed since the last render (after reset(), all of
   * the room's), `pending` all the room's unacknowledged sends, oldest first.
   * Stays pinned to the bottom if it was there (or `toBottom`); otherwise the first
   * message keeps its place on screen, so older pages prepend without a jump.
   */
  render({ messages, pending, loaded, hasOlder }, { toBottom = false, incoming = false } = {}) {
    const { conversation: scroller, "jump-latest": jump } = this.#els;
    const anchor = this.#entries[this.#hidden]?.node;
    const anchorTop = anchor?.offsetTop ?? 0;
    for (const message of messages) this.#putMessage(message);
    const failures = this.#putPending(pending);
    this.#history = { loaded, hasOlder };
    this.#placeUnread();
    this.#renderHistoryStatus();
    if (this.#stuckToBottom || toBottom) {
      this.scrollToBottom();
      this.#queueTrim();
    } else if (anchor?.isConnected) {
      scroller.scrollTop += anchor.offsetTop - anchorTop;
    }
    if (incoming && !this.#stuckToBottom) jump.hidden = false;
    this.#showJumpUnread();
    if (!this.#fresh) {
      for (const failed of failures) this.#on.announce(t("Not sent: %s", failed.detail));
    }
    this.#fresh = false;
  }

  /** The room, the role or removal changed: redraw the messages whose actions change. */
  refreshPermissions() {
    const context = permissionContext(this.#ui);
    if (context === this.#context) return;
    this.#context = context;
    for (const entry of this.#entries) if (entry.message) this.#draw(entry, entry.message);
  }

  scrollToBottom() {
    const scroller = this.#els.conversation;
    scroller.scrollTop = scroller.scrollHeight;
    this.#stuckToBottom = true;
    this.#els["jump-latest"].hidden = true;
  }

  /** True when the top of the history is (nearly) on screen, so an older page should load. */
  nearTop() {
    return this.#hidden === 0 && this.#els.conversation.scrollTop < NEAR_TOP_PX;
  }

  #renderHistoryStatus() {
    const { loaded, hasOlder } = this.#history;
    let text = t("This is the start of the conversation.");
    if (!loaded) text = t("Loading messages…");
    else if (hasOlder || this.#hidden) text = t("Loading earlier messages…");
    else if (!this.#messageCount) text = t("No messages yet. Say hello!");
    const status = this.#els["history-status"];
    if (status.textContent !== text) status.textContent = text;
  }

  // Placing entries.

  #putMessage(message) {
    const held = this.#byKey.get(`m:${message.seq}`);
    if (held) {
      this.#draw(held, message);
      return;
    }
    const at = new Date(message.created_at);
    const entry = {
      key: `m:${message.seq}`,
      seq: message.seq,
      author: message.author,
      via: message.via ?? null,
      at,
    };
    let index = this.#messageIndex(message.seq);
    if (index <= this.#hidden && this.#hidden) {
      this.#reveal(this.#hidden);
      index = this.#messageIndex(message.seq);
    }
    this.#insert(index, entry, message);
  }

  /** Puts the pending sends after the messages, in order; returns the failed ones new here. */
  #putPending(pending) {
    const keys = pending.map(pendingKey);
    const wanted = new Set(keys);
    for (let index = this.#entries.length - 1; index >= this.#messageCount; index -= 1) {
      if (!wanted.has(this.#entries[index].key)) this.#remove(index);
    }
    const failures = [];
    pending.forEach((send, offset) => {
      if (this.#byKey.has(keys[offset])) return;
      const entry = { key: keys[offset], pending: send, author: this.#me };
      entry.at = new Date(send.createdAt);
      this.#insert(this.#messageCount + offset, entry);
      if (send.state === "failed") failures.push(send);
    });
    return failures;
  }

  /** Where message `seq` is, or would go, among the messages drawn (a binary search). */
  #messageIndex(seq) {
    let low = 0;
    let high = this.#messageCount;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.#entries[middle].seq < seq) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  #indexOf(entry) {
    if (entry.pending) return this.#entries.indexOf(entry, this.#messageCount);
    return this.#messageIndex(entry.seq);
  }

  /** Draws `entry` (a message's with `message`) and puts it at `index`. */
  #insert(index, entry, message = null) {
    const next = this.#entries[index] ?? null;
    entry.day = dayKey(entry.at);
    entry.continued = this.#continues(index, this.#entries[index - 1], entry);
    entry.node = messageNode(entry, this.#me);
    if (message) this.#draw(entry, message);
    entry.node.dataset.key = entry.key;
    this.#entries.splice(index, 0, entry);
    if (!entry.pending) this.#messageCount += 1;
    this.#byKey.set(entry.key, entry);
    // Before the next entry, or before its day's divider when that entry opens its day.
    const nextDay = next && this.#days.get(next.day);
    const before = nextDay?.first === next ? nextDay.node : (next?.node ?? null);
    this.#els.messages.insertBefore(entry.node, before);
    this.#placeDay(entry, index);
    this.#regroup(index + 1);
  }

  /** Takes out the (pending) entry at `index`; its day's divider moves on or goes. */
  #remove(index) {
    const [entry] = this.#entries.splice(index, 1);
    this.#byKey.delete(entry.key);
    entry.node.remove();
    const day = this.#days.get(entry.day);
    if (day.first === entry) {
      let next = null;
      for (let i = index; i < this.#entries.length && !next; i += 1) {
        if (this.#entries[i].day === entry.day) next = this.#entries[i];
      }
      if (next) {
        day.first = next;
        this.#els.messages.insertBefore(day.node, next.node);
      } else {
        day.node.remove();
        this.#days.delete(entry.day);
      }
    }
    this.#regroup(index);
  }

  /** A divider goes before each day's first entry: `entry`, just put at `index`, may be it. */
  #placeDay(entry, index) {
    const day = this.#days.get(entry.day);
    if (!day) {
      const node = el("li", "day");
      node.append(el("h2", "day-label", dayLabel(entry.at)));
      node.dataset.key = `d:${entry.day}`;
      this.#els.messages.insertBefore(node, entry.node);
      this.#days.set(entry.day, { node, first: entry });
    } else if (this.#indexOf(day.first) > index) {
      day.first = entry;
      this.#els.messages.insertBefore(day.node, entry.node);
    }
  }

  /**
   * Whether `entry`, at `index` after `previous`, shows as part of its author's run: not
   * the first message in the page, nor the first unread, which show their author.
   */
  #continues(index, previous, entry) {
    return index > this.#hidden && entry.key !== this.#unreadKey && continues(previous, entry);
  }

  /** The entry at `index` has a new predecessor: does it still continue a run? */
  #regroup(index) {
    const entry = this.#entries[index];
    if (!entry) return;
    const continued = this.#continues(index, this.#entries[index - 1], entry);
    if (continued === entry.continued) return;
    entry.continued = continued;
    entry.node.classList.toggle("msg-continued", continued);
  }

  /** Brings a message's node up to `message` and the user's permissions, if they changed. */
  #draw(entry, message) {
    const permissions = permissionsOf(message, this.#ui, this.#me);
    if (entry.message === message && entry.permissions === permissions) return;
    drawMessage(entry.node, message, entry.message ?? null, permissions, this.#me);
    entry.message = message;
    entry.permissions = permissions;
    if (!permissions.includes("r") && this.#ui.picking === entry.seq) {
      this.#actions.closePicker();
    }
    if (!permissions.includes("e") && this.#ui.editing === entry.seq) this.#actions.endEdit();
  }

  // Unread messages.

  /** Marks the messages after seq `after` (`count` of them someone else's) as new. */
  markUnread(after, count) {
    this.#unread = { after, count, seen: false };
    this.#placeUnread();
    this.#showJumpUnread();
  }

  /** The seq the unread messages come after, or null when none were marked. */
  unreadAfter() {
    return this.#unread?.after ?? null;
  }

  /** The seq of the first unread message, or null when it is not loaded (or none is). */
  firstUnread() {
    return this.#unreadEntry()?.seq ?? null;
  }

  #unreadEntry() {
    if (!this.#unread || !this.#messageCount) return null;
    // Older messages not loaded yet may hold it.
    if (this.#entries[0].seq > this.#unread.after + 1 && this.#history.hasOlder) return null;
    const mine = this.#me.id;
    const from = this.#messageIndex(this.#unread.after + 1);
    for (let index = from; index < this.#messageCount; index += 1) {
      const entry = this.#entries[index];
      if (entry.author.id !== mine && !entry.message.deleted) return entry;
    }
    return null;
  }

  /** Puts the "New messages" divider before the first unread message, if in the page. */
  #placeUnread() {
    const target = this.#unreadEntry();
    const key = target?.key ?? null;
    if (key !== this.#unreadKey) {
      const previous = this.#byKey.get(this.#unreadKey);
      this.#unreadKey = key;
      if (previous) this.#regroup(this.#indexOf(previous));
      if (target) this.#regroup(this.#indexOf(target));
    }
    const node = this.#unreadNode;
    if (target && this.#indexOf(target) >= this.#hidden) {
      if (node.nextSibling !== target.node) this.#els.messages.insertBefore(node, target.node);
    } else {
      node.remove();
    }
  }

  /** The jump control shows while the first unread is above the view, until it is seen. */
  #showJumpUnread() {
    const jump = this.#els["jump-unread"];
    const unread = this.#unread;
    if (unread && !unread.seen && this.#unreadNode.isConnected) {
      const view = this.#els.conversation.getBoundingClientRect();
      const divider = this.#unreadNode.getBoundingClientRect();
      unread.seen = divider.bottom >= view.top && divider.top <= view.bottom;
    }
    const shown = Boolean(unread) && !unread.seen && this.#history.loaded;
    if (shown) jump.textContent = t("Jump to the first unread message (%s)", unread.count);
    jump.hidden = !shown;
  }

  // Keeping the page short.

  /** Once the browser is idle: if the reader is still at the bottom, trims the page. */
  #queueTrim() {
    if (this.#trimQueued || this.#messageCount - this.#hidden <= TRIM_ABOVE) return;
    this.#trimQueued = true;
    whenIdle(() => {
      this.#trimQueued = false;
      if (this.#stuckToBottom) this.#trim();
    });
  }

  /** Takes all but the newest KEEP messages out of the page, short of one in use. */
  #trim() {
    let end = this.#messageCount - KEEP;
    const inUse = [this.#ui.editing, this.#ui.picking].map((seq) => this.#messageEntry(seq));
    inUse.push(this.#byKey.get(document.activeElement?.closest("li.msg")?.dataset.key));
    for (const entry of inUse) if (entry) end = Math.min(end, this.#indexOf(entry));
    if (end <= this.#hidden) return;
    for (let index = this.#hidden; index < end; index += 1) {
      const entry = this.#entries[index];
      entry.node.remove();
      if (this.#days.get(entry.day).first === entry) this.#days.get(entry.day).node.remove();
    }
    this.#hidden = end;
    this.#renderHistoryStatus();
    const first = this.#entries[end];
    this.#els.messages.insertBefore(this.#days.get(first.day).node, first.node);
    this.#regroup(end);
    this.#placeUnread();
    this.scrollToBottom();
  }

  /** Puts the newest `count` messages out of the page back in above, the view kept still. */
  #reveal(count) {
    const from = this.#hidden - Math.min(count, this.#hidden);
    const first = this.#entries[this.#hidden];
    const firstDay = this.#days.get(first.day).node;
    const anchorTop = first.node.offsetTop;
    const nodes = document.createDocumentFragment();
    for (let index = from; index < this.#hidden; index += 1) {
      const entry = this.#entries[index];
      if (index === from || this.#entries[index - 1].day !== entry.day) {
        nodes.append(this.#days.get(entry.day).node);
      }
      nodes.append(entry.node);
    }
    const before = firstDay.isConnected ? firstDay : first.node;
    this.#els.messages.insertBefore(nodes, before);
    const previousFirst = this.#hidden;
    this.#hidden = from;
    this.#regroup(previousFirst);
    this.#regroup(from);
    this.#placeUnread();
    this.#renderHistoryStatus();
    this.#els.conversation.scrollTop += first.node.offsetTop - anchorTop;
    this.#showJumpUnread();
  }

  /** Brings `entry` back into the page if it is out of it. */
  #show(entry) {
    const index = this.#indexOf(entry);
    if (index < this.#hidden) this.#reveal(this.#hidden - index);
  }

  #messageEntry(seq) {
    return seq === null ? null : (this.#byKey.get(`m:${seq}`) ?? null);
  }

  /** Opens the inline editor on message `seq`; false when it is not in the timeline. */
  startEdit(seq) {
    return this.#actions.startEdit(seq);
  }

  /** Scrolls to a message and flashes it; false when it is not in the timeline. */
  highlight(seq) {
    const entry = this.#messageEntry(seq);
    if (!entry) return false;
    this.#show(entry);
    const li = entry.node;
    li.tabIndex = -1;
    li.scrollIntoView({ block: "center" });
    // Decided now, not on the scroll event: a render before it must not jump to the bottom.
    const scroller = this.#els.conversation;
    const gap = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight;
    this.#stuckToBottom = gap < NEAR_BOTTOM_PX;
    li.focus({ preventScroll: true });
    li.classList.remove("msg-flash");
    void li.offsetWidth; // restart the animation when the same message is shown again
    li.classList.add("msg-flash");
    setTimeout(() => li.classList.remove("msg-flash"), FLASH_MS);
    return true;
  }

  #bind() {
    const els = this.#els;
    els["jump-latest"].addEventListener("click", () => this.scrollToBottom());
    els["jump-unread"].addEventListener("click", () => this.#on.jumpToUnread());
    els.conversation.addEventListener("scroll", () => {
      const scroller = els.conversation;
      const gap = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight;
      this.#stuckToBottom = gap < NEAR_BOTTOM_PX;
      if (this.#stuckToBottom) {
        els["jump-latest"].hidden = true;
        this.#queueTrim();
      }
      if (this.#hidden && scroller.scrollTop < NEAR_TOP_PX) this.#reveal(REVEAL);
      if (this.#unread && !this.#unread.seen) this.#showJumpUnread();
      if (this.nearTop()) this.#on.nearTop();
    });
    // The viewport shrinks when the composer grows or a phone keyboard opens.
    new ResizeObserver(() => {
      if (this.#stuckToBottom) this.scrollToBottom();
    }).observe(els.conversation);
    this.#actions.bind(els.messages);
  }
}
