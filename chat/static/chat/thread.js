// The thread panel: one root message and its replies beside the conversation, with a
// composer of its own ("Also send to the room"; a draft per thread). It loads the
// thread from the API (GET /api/messages/<id>/thread, older replies on demand) and
// takes live replies, edits, deletions, reactions and the root's summary from the store
// as they come, also for replies the room's history does not hold ("unheld"). Each entry
// has the timeline's reactions, edit and delete where permitted (threadactions.js). While
// it shows a thread in a visible tab, the replies shown count as seen (threadmarks.js).
import { fetchThread } from "./api.js";
import { avatar, button, byId, el, timeNode } from "./dom.js";
import { t } from "./i18n.js";
import { markSummariesSeen, messageBody } from "./message.js";
import { ThreadActions } from "./threadactions.js";
import { markThreadSeen } from "./threadmarks.js";
import { attachmentsNode } from "./uploads.js";

const draftKey = (rootId) => `thread-${rootId}`;

export class ThreadPanel {
  #els;
  #chat;
  #ui;
  #store;
  #me;
  #drafts;
  #on;
  // The thread shown: its root, its replies by seq, whether older replies exist, and a
  // generation that makes answers for a thread no longer shown go unused.
  #root = null;
  #replies = new Map();
  #hasOlder = false;
  #generation = 0;
  // The entry drawn for each reply (by seq) and for the root, with the message it shows.
  #drawn = new Map();
  #rootDrawn = null;
  #actions;
  // What had focus when the panel opened, to go back to when it closes.
  #opener = null;

  /**
   * `chat` is the chat page (it carries `thread-open`), `ui` the UiState, `store` the
   * Store, `drafts` the Drafts. `on` holds the callbacks: sendInThread(rootId, body,
   * alsoInRoom) → true when taken, retry(id), discard(id), opened() (the panel took
   * the side of the page: other side panels close), and the entries' actions:
   * react(message, emoji, on), edit(message, body) → true when done, remove(message),
   * moreEmoji(message, anchor).
   */
  constructor(chat, { ui, store, me, drafts, on }) {
    this.#els = byId([
      "thread-panel", "thread-close", "thread-status", "thread-root", "thread-older",
      "thread-replies", "thread-pending", "thread-composer", "thread-input", "thread-also",
      "members-toggle",
    ]);
    this.#chat = chat;
    this.#ui = ui;
    this.#store = store;
    this.#me = me;
    this.#drafts = drafts;
    this.#on = on;
    this.#actions = new ThreadActions({ ui, me, find: (id) => this.#find(id), on });
    this.#bind();
  }

  /** Shows the thread of message `rootId` (of the open room) and loads it. */
  async open(rootId, { focusComposer = true } = {}) {
    if (!this.#ui.threadOpen) this.#opener = document.activeElement;
    this.#saveDraft();
    this.#generation += 1;
    const generation = this.#generation;
    this.#ui.threadOpen = true;
    this.#ui.threadRoot = rootId;
    this.#root = this.#store.log(this.#ui.roomId)?.byId(rootId) ?? null;
    this.#replies.clear();
    this.#forget();
    this.#hasOlder = false;
    const els = this.#els;
    els["thread-panel"].hidden = false;
    this.#chat.classList.add("thread-open");
    this.#on.opened();
    els["thread-replies"].replaceChildren();
    els["thread-status"].textContent = t("Loading the thread…");
    els["thread-input"].value = this.#drafts.get(draftKey(rootId));
    els["thread-also"].checked = false;
    this.#drawRoot();
    this.renderPending();
    this.#showComposer();
    if (focusComposer && this.#ui.member) els["thread-input"].focus();
    else els["thread-close"].focus();
    let page;
    try {
      page = await fetchThread(rootId);
    } catch (error) {
      if (generation === this.#generation) {
        els["thread-status"].textContent = t("Could not load the thread: %s", error.detail);
      }
      return;
    }
    if (generation !== this.#generation) return;
    this.#root = page.root;
    this.#hasOlder = page.has_more;
    this.#drawRoot();
    this.#addReplies(page.replies);
  }

  /** Closes the panel; focus goes back where it was when the panel opened (`refocus`). */
  close({ refocus = true } = {}) {
    if (!this.#ui.threadOpen) return;
    this.#saveDraft();
    this.#generation += 1;
    this.#ui.threadOpen = false;
    this.#ui.threadRoot = null;
    this.#root = null;
    this.#replies.clear();
    this.#forget();
    this.#els["thread-panel"].hidden = true;
    this.#chat.classList.remove("thread-open");
    const opener = this.#opener;
    this.#opener = null;
    if (refocus) (reachable(opener) ?? document.getElementById("composer-input"))?.focus();
  }

  /** Messages of room `roomId` were added or changed: the thread shown takes its own. */
  messagesChanged(roomId, messages) {
    const root = this.#root;
    if (!this.#ui.threadOpen || roomId !== this.#ui.roomId) return;
    const rootId = this.#ui.threadRoot;
    const replies = messages.filter((message) => message.thread_root === rootId);
    const newRoot = messages.find((message) => message.id === rootId);
    if (newRoot && newRoot !== root) {
      this.#root = newRoot;
      this.#drawRoot();
    }
    if (replies.length) this.#addReplies(replies);
  }

  /** The room's unacknowledged sends changed: the thread's own show under its replies. */
  renderPending() {
    const list = this.#els["thread-pending"];
    const rootId = this.#ui.threadRoot;
    const sends = rootId === null ? [] : this.#store.pendingFor(this.#ui.roomId);
    list.replaceChildren(
      ...sends.filter((send) => send.thread_root === rootId).map((send) => pendingNode(send)),
    );
  }

  /** The panel is on screen and the tab visible: the replies shown count as seen. */
  markSeen() {
    if (!this.#ui.threadOpen || document.visibilityState !== "visible") return;
    const seqs = [...this.#replies.keys()];
    const rootId = this.#ui.threadRoot;
    if (seqs.length && markThreadSeen(this.#me.id, rootId, Math.max(...seqs))) {
      markSummariesSeen(rootId);
    }
  }

  #forget() {
    this.#drawn.clear();
    this.#rootDrawn = null;
    this.#actions.reset();
  }

  /** The root or a reply shown, by id, or null. */
  #find(id) {
    if (this.#root?.id === id) return this.#root;
    return [...this.#replies.values()].find((message) => message.id === id) ?? null;
  }

  /** A message the room's history does not hold changed: the panel's copy changes too. */
  #applyUnheld({ room, id, update }) {
    if (!this.#ui.threadOpen || room !== this.#ui.roomId) return;
    const held = this.#find(id);
    const next = held && update(held);
    if (!next) return;
    if (held === this.#root) {
      this.#root = next;
      this.#drawRoot();
    } else {
      this.#addReplies([next]);
    }
  }

  /**
   * Puts `entries` ([{message, node (the one drawn for it before, or null)}]) in `holder`,
   * drawing anew only the changed ones; focus, an open editor or picker stay.
   */
  #place(holder, entries, className) {
    const focused = document.activeElement;
    const swaps = [];
    const nodes = entries.map(({ message, drawn }) => {
      if (drawn?.message === message) return drawn.node;
      const node = this.#messageNode(message, className);
      if (drawn) swaps.push([drawn.node, node]);
      return node;
    });
    holder.replaceChildren(...nodes);
    if (focused?.isConnected && document.activeElement !== focused) focused.focus();
    for (const [old, fresh] of swaps) this.#actions.carry(old, fresh, focused);
    return nodes;
  }

  #drawRoot() {
    const root = this.#root;
    const entries = root ? [{ message: root, drawn: this.#rootDrawn }] : [];
    const [node] = this.#place(this.#els["thread-root"], entries, "thread-root-msg");
    this.#rootDrawn = root ? { message: root, node } : null;
    this.#showComposer();
  }

  #addReplies(messages) {
    for (const message of messages) this.#replies.set(message.seq, message);
    const ordered = [...this.#replies.values()].sort((a, b) => a.seq - b.seq);
    const entries = ordered.map((message) => ({ message, drawn: this.#drawn.get(message.seq) }));
    const nodes = this.#place(this.#els["thread-replies"], entries, "thread-msg");
    ordered.forEach((message, index) => this.#drawn.set(message.seq, { message, node: nodes[index] }));
    this.#els["thread-older"].hidden = !this.#hasOlder;
    const count = ordered.filter((message) => !message.deleted).length;
    let status = t("%s replies", count);
    if (count === 0) status = t("No replies yet.");
    else if (count === 1) status = t("1 reply");
    this.#els["thread-status"].textContent = status;
    this.markSeen();
  }

  async #loadOlder() {
    const generation = this.#generation;
    const oldest = Math.min(...this.#replies.keys());
    const older = this.#els["thread-older"];
    older.disabled = true;
    try {
      const page = await fetchThread(this.#ui.threadRoot, { before: oldest });
      if (generation !== this.#generation) return;
      this.#hasOlder = page.has_more;
      this.#addReplies(page.replies);
      this.#els["thread-replies"].firstElementChild?.focus();
    } catch (error) {
      this.#els["thread-status"].textContent = t("Could not load the thread: %s", error.detail);
    } finally {
      older.disabled = false;
    }
  }

  /** A root or a reply: who, when, the text and files, its reactions and actions. */
  #messageNode(message, className) {
    const node = el(className === "thread-msg" ? "li" : "article", `thread-entry ${className}`);
    node.tabIndex = -1;
    const who = el("div", "thread-meta");
    const author = message.author;
    who.append(
      avatar(author.display_name, author.id, "thread-avatar", author.avatar),
      el("span", "msg-author", author.display_name),
      " ",
    );
    if (message.via) who.append(el("span", "msg-via", t("via %s", message.via)), " ");
    who.append(timeNode(new Date(message.created_at), "msg-time"));
    if (message.also_in_room) who.append(" ", el("span", "thread-also-sent", t("Also sent to the room")));
    node.append(who);
    if (message.deleted) {
      node.append(el("div", "msg-body msg-tombstone", t("This message was deleted")));
    } else {
      node.append(messageBody(message, this.#me));
      if (message.edited_at) node.append(el("span", "msg-edited", t("(edited)")));
      if (message.attachments?.length) node.append(attachmentsNode(message.attachments));
    }
    this.#actions.decorate(node, message);
    return node;
  }

  #showComposer() {
    const form = this.#els["thread-composer"];
    form.hidden = !this.#ui.member || Boolean(this.#root?.deleted);
  }

  #saveDraft() {
    if (this.#ui.threadRoot !== null) {
      this.#drafts.set(draftKey(this.#ui.threadRoot), this.#els["thread-input"].value);
    }
  }

  #submit() {
    const input = this.#els["thread-input"];
    const rootId = this.#ui.threadRoot;
    if (rootId === null) return;
    const alsoInRoom = this.#els["thread-also"].checked;
    if (this.#on.sendInThread(rootId, input.value, alsoInRoom)) {
      input.value = "";
      this.#drafts.set(draftKey(rootId), "");
      this.#els["thread-also"].checked = false;
    }
  }

  #bind() {
    const els = this.#els;
    els["thread-close"].addEventListener("click", () => this.close());
    els["thread-older"].addEventListener("click", () => this.#loadOlder());
    els["members-toggle"].addEventListener("click", () => this.close({ refocus: false }));
    els["thread-panel"].addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || event.defaultPrevented) return;
      event.preventDefault();
      event.stopPropagation();
      this.close();
    });
    els["thread-composer"].addEventListener("submit", (event) => {
      event.preventDefault();
      this.#submit();
    });
    els["thread-input"].addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.#submit();
      }
    });
    els["thread-input"].addEventListener("input", () => this.#saveDraft());
    els["thread-pending"].addEventListener("click", (event) => {
      const target = event.target.closest("button[data-action]");
      if (target) this.#on[target.dataset.action](target.dataset.id);
    });
    document.addEventListener("visibilitychange", () => this.markSeen());
    this.#store.addEventListener("unheld", (event) => this.#applyUnheld(event.detail));
    this.#actions.bind(els["thread-root"]);
    this.#actions.bind(els["thread-replies"]);
  }
}

/** A thread send awaiting its ack: "Sending…", or why it failed with Retry and Discard. */
function pendingNode(send) {
  const li = el("li", `thread-entry thread-msg msg-pending msg-${send.state}`);
  li.append(el("div", "msg-body msg-plain", send.body));
  const status = el("p", "msg-status");
  if (send.state === "sending") {
    status.textContent = t("Sending…");
  } else {
    status.append(el("span", "msg-error", t("Not sent: %s", send.detail)));
    for (const [action, label] of [["retry", t("Retry")], ["discard", t("Discard")]]) {
      const node = button("button-link", label);
      node.dataset.action = action;
      node.dataset.id = send.id;
      status.append(" ", node);
    }
  }
  li.append(status);
  return li;
}

/**
 * Where focus goes back to: the node that opened the panel, or, when a new reply redrew
 * the root's summary line it was, the line that replaced it.
 */
function reachable(opener) {
  if (opener?.isConnected) return opener;
  const root = opener?.classList.contains("thread-line") ? opener.dataset.root : null;
  return root ? document.querySelector(`#messages .thread-line[data-root="${root}"]`) : null;
}
