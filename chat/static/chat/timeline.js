// The conversation: the open room's messages, then its pending sends, with a divider
// before each day's first entry and an author's run of entries marked `continued`.
// Drawn incrementally: a message added, changed or acknowledged touches only its own
// node, its day's divider and the next entry's `continued` mark, never the whole list.
// Read to the bottom, only the newest messages stay in the page: the older ones are kept
// out of it (their nodes held, still kept up to date) and go back in above as the reader
// scrolls up, so a send costs the browser the same with 50 or 10,000 messages loaded.
import { byId, el } from "./dom.js";
import { LOCALE, t } from "./i18n.js";
import {
  drawMessage,
  editorNode,
  messageNode,
  permissionContext,
  permissionsOf,
  pickerNode,
} from "./message.js";

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

/** An entry continues its author's run: same day, same author, within the window. */
function continues(previous, entry) {
  return (
    Boolean(previous) &&
    previous.day === entry.day &&
    entry.author.id !== null &&
    previous.author.id === entry.author.id &&
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
  // Day key → {node: its divider, first: the day's first entry}.
  #days = new Map();
  // The permissions every message was last drawn for (permissionContext).
  #context = "";
  #stuckToBottom = true;
  // Nothing drawn since reset(): a room's failed sends are not announced on opening it.
  #fresh = true;

  /**
   * `ui` is the UiState, `me` {id, username, display_name}; `on` holds the callbacks:
   * announce(text), nearTop(), retry(id), discard(id), react(message, emoji, on),
   * reply(message), edit(message, body) → true when done, remove(message), jumpTo(seq),
   * focusComposer().
   */
  constructor({ ui, me, on }) {
    this.#els = byId(["conversation", "history-status", "messages", "jump-latest"]);
    this.#ui = ui;
    this.#me = me;
    this.#on = on;
    this.#bind();
  }

  /** Another room opens: the timeline starts empty, pinned to the bottom. */
  reset() {
    this.closePicker();
    this.#ui.editing = null;
    this.#entries = [];
    this.#byKey.clear();
    this.#days.clear();
    this.#messageCount = 0;
    this.#hidden = 0;
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
    this.#renderHistoryStatus();
    if (this.#stuckToBottom || toBottom) {
      this.scrollToBottom();
      this.#queueTrim();
    } else if (anchor?.isConnected) {
      scroller.scrollTop += anchor.offsetTop - anchorTop;
    }
    if (incoming && !this.#stuckToBottom) jump.hidden = false;
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
    const entry = { key: `m:${message.seq}`, seq: message.seq, author: message.author, at };
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
    entry.continued = continues(this.#entries[index - 1], entry);
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

  /** The entry at `index` has a new predecessor: does it still continue a run? */
  #regroup(index) {
    const entry = this.#entries[index];
    if (!entry) return;
    const continued = continues(this.#entries[index - 1], entry);
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
    if (!permissions.includes("r") && this.#ui.picking === entry.seq) this.closePicker();
    if (!permissions.includes("e") && this.#ui.editing === entry.seq) this.#endEdit();
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
    this.#openPage();
    this.scrollToBottom();
  }

  /** The first message in the page shows its author, like the start of a conversation. */
  #openPage() {
    const first = this.#entries[this.#hidden];
    if (!this.#hidden || !first.continued) return;
    first.continued = false;
    first.node.classList.remove("msg-continued");
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
    this.#regroup(this.#hidden);
    this.#hidden = from;
    this.#openPage();
    this.#renderHistoryStatus();
    this.#els.conversation.scrollTop += first.node.offsetTop - anchorTop;
  }

  /** Brings `entry` back into the page if it is out of it. */
  #show(entry) {
    const index = this.#indexOf(entry);
    if (index < this.#hidden) this.#reveal(this.#hidden - index);
  }

  #messageEntry(seq) {
    return seq === null ? null : (this.#byKey.get(`m:${seq}`) ?? null);
  }

  // The reaction picker: one open at a time, inside its message.

  #togglePicker(entry, toggle) {
    if (this.#ui.picking === entry.seq) {
      this.closePicker({ refocus: true });
      return;
    }
    this.closePicker();
    const picker = pickerNode(entry.message, this.#me);
    picker.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      event.stopPropagation();
      this.closePicker({ refocus: true });
    });
    picker.addEventListener("focusout", (event) => {
      const next = event.relatedTarget;
      if (next && !picker.contains(next) && next !== toggle) this.closePicker();
    });
    entry.node.append(picker);
    entry.node.classList.add("msg-picking");
    toggle.setAttribute("aria-expanded", "true");
    this.#ui.picking = entry.seq;
    picker.scrollIntoView({ block: "nearest" });
    picker.firstElementChild.focus();
  }

  /** The open picker's message node, the picker and its toggle, or null. */
  #picker() {
    const li = this.#messageEntry(this.#ui.picking)?.node;
    if (!li) return null;
    const node = li.querySelector(":scope > .reaction-picker");
    return { li, node, toggle: li.querySelector('[data-action="picker"]') };
  }

  closePicker({ refocus = false } = {}) {
    const picker = this.#picker();
    this.#ui.picking = null;
    if (!picker) return;
    picker.node?.remove();
    picker.li.classList.remove("msg-picking");
    picker.toggle.setAttribute("aria-expanded", "false");
    if (refocus && picker.toggle.isConnected) picker.toggle.focus();
  }

  // The inline editor.

  /** Opens the editor on a message shown in the timeline; false when it is not there. */
  startEdit(seq) {
    const entry = this.#messageEntry(seq);
    if (!entry?.permissions.includes("e")) return false;
    this.#show(entry);
    this.#endEdit();
    this.closePicker();
    const form = editorNode(seq, entry.message.body);
    const input = form.querySelector("textarea");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#saveEdit();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.#saveEdit();
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        this.#endEdit({ refocus: true });
      }
    });
    entry.node.querySelector(".msg-text").after(form);
    entry.node.classList.add("msg-editing");
    this.#ui.editing = seq;
    entry.node.scrollIntoView({ block: "nearest" });
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
    return true;
  }

  #saveEdit() {
    const entry = this.#messageEntry(this.#ui.editing);
    const input = entry?.node.querySelector(".msg-editor-input");
    if (input && this.#on.edit(entry.message, input.value)) this.#endEdit({ refocus: true });
  }

  #endEdit({ refocus = false } = {}) {
    const entry = this.#messageEntry(this.#ui.editing);
    this.#ui.editing = null;
    if (!entry) return;
    entry.node.querySelector(".msg-editor")?.remove();
    entry.node.classList.remove("msg-editing");
    if (refocus) this.#on.focusComposer();
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
    els.conversation.addEventListener("scroll", () => {
      const scroller = els.conversation;
      const gap = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight;
      this.#stuckToBottom = gap < NEAR_BOTTOM_PX;
      if (this.#stuckToBottom) {
        els["jump-latest"].hidden = true;
        this.#queueTrim();
      }
      if (this.#hidden && scroller.scrollTop < NEAR_TOP_PX) this.#reveal(REVEAL);
      if (this.nearTop()) this.#on.nearTop();
    });
    // The viewport shrinks when the composer grows or a phone keyboard opens.
    new ResizeObserver(() => {
      if (this.#stuckToBottom) this.scrollToBottom();
    }).observe(els.conversation);
    els.messages.addEventListener("click", (event) => this.#messageAction(event));
    // A click anywhere outside the open picker closes it.
    document.addEventListener("click", (event) => {
      const picker = this.#picker();
      const inside = [picker?.node, picker?.toggle].some((node) => node?.contains(event.target));
      if (picker && !inside) this.closePicker();
    });
  }

  #messageAction(event) {
    const target = event.target.closest("button[data-action]");
    if (!target) return;
    const li = target.closest("li.msg");
    const entry = li && this.#byKey.get(li.dataset.key);
    const message = entry?.message;
    const { action, emoji } = target.dataset;
    const pressed = target.getAttribute("aria-pressed") === "true";
    if (action === "retry" || action === "discard") {
      this.#on[action](target.dataset.id);
      this.#on.focusComposer();
      return;
    }
    if (!message) return;
    switch (action) {
      case "picker":
        this.#togglePicker(entry, target);
        break;
      case "pick":
        this.#on.react(message, emoji, !pressed);
        this.closePicker({ refocus: true });
        break;
      case "more-emoji":
        this.closePicker();
        this.#on.moreEmoji(message, li.querySelector('[data-action="picker"]'));
        break;
      case "react":
        this.#on.react(message, emoji, !pressed);
        break;
      case "reply":
        this.#on.reply(message);
        break;
      case "edit":
        this.startEdit(message.seq);
        break;
      case "edit-cancel":
        this.#endEdit({ refocus: true });
        break;
      case "delete":
        this.#on.remove(message);
        break;
      case "quote":
        this.#on.jumpTo(Number(target.dataset.seq));
        break;
    }
  }
}
