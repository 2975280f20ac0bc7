// One message in the timeline: its node, drawn and redrawn part by part, its actions bar,
// the reaction picker and a pending send's status line. The timeline (timeline.js)
// decides where the nodes go. Message HTML enters only through richtext.js.
import { avatar, botBadge, button, el, fullFormat, hiddenText, reconcile, svgIcon, timeNode } from "./dom.js";
import { personButton, personFace } from "./profilecard.js";
import { t } from "./i18n.js";
import { renderMessageText } from "./richtext.js";
import { threadUnread } from "./threadmarks.js";
import { attachmentsKey, attachmentsNode } from "./uploads.js";

/** The reaction picker's choices. */
export const QUICK_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "👀", "✅"];
export const SMILE_PATH =
  "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16zM8.5 11" +
  "a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zm7 0a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zM12 17.5" +
  "c2.33 0 4.31-1.46 5.11-3.5H6.89c.8 2.04 2.78 3.5 5.11 3.5z";
const REPLY_PATH = "M10 9V5l-7 7 7 7v-4.1c5 0 8.5 1.6 11 5.1-1-5-4-10-11-11z";
const EDIT_PATH =
  "M3 17.25V21h3.75L17.81 9.94l-3.75-3.75L3 17.25zM20.71 7.04a1 1 0 0 0 0-1.41l-2.34-2.34" +
  "a1 1 0 0 0-1.41 0l-1.83 1.83 3.75 3.75 1.83-1.83z";
const DELETE_PATH = "M6 19a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2V7H6v12zM19 4h-3.5l-1-1h-5l-1 1H5v2h14V4z";
export const PIN_PATH = "M8 3h8v2h-1v5l3 3v2h-5v6l-1 1-1-1v-6H6v-2l3-3V5H8z";
const THREAD_PATH =
  "M4 4h16v11H7.17L4 18.17V4zm0-2a2 2 0 0 0-2 2v19l5-5h13a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2H4z" +
  "m3 5h10v2H7zm0 3h7v2H7z";
// Each action button and the permission letter that shows it (see permissionsOf).
export const ACTIONS = [
  { action: "picker", need: "r", label: "Add reaction", path: SMILE_PATH },
  { action: "reply", need: "p", label: "Reply", path: REPLY_PATH },
  { action: "thread", need: "t", label: "Reply in thread", path: THREAD_PATH },
  { action: "edit", need: "e", label: "Edit", path: EDIT_PATH },
  { action: "pin", need: "n", label: "Pin", path: PIN_PATH },
  { action: "unpin", need: "u", label: "Unpin", path: PIN_PATH },
  { action: "delete", need: "d", label: "Delete", path: DELETE_PATH },
];

/** The permission letter each action needs, from the toolbar or the menu (messagemenu.js). */
export const NEEDS = {
  pick: "r",
  "more-emoji": "r",
  reply: "p",
  thread: "t",
  edit: "e",
  delete: "d",
  pin: "n",
  unpin: "u",
};

export const reactedWith = (message, emoji, userId) =>
  (message.reactions ?? []).some((r) => r.emoji === emoji && r.users.includes(userId));

const pinnedIn = (room, message) =>
  !message.deleted && (room?.pins ?? []).some((pin) => pin.message.id === message.id);

/**
 * What the user may do to a message, as letters: r react, p reply, t reply in its thread
 * (a message that is no thread reply itself), e edit, d delete, n pin, u unpin; and `*`
 * when the message is pinned (its mark, for everyone).
 * The server decides; this only leaves out buttons that could not work.
 * `ui` is the UiState: the open room and whether the user was removed from it.
 */
export function permissionsOf(message, ui, me) {
  const room = ui.room;
  const pinned = pinnedIn(room, message) ? "*" : "";
  if (!room?.role || ui.removed || message.deleted) return pinned;
  const mine = message.author.id === me.id;
  const moderator = room.kind !== "direct" && ["owner", "admin"].includes(room.role);
  const pin = room.kind === "direct" || moderator ? (pinned ? "u" : "n") : "";
  const root = message.thread_root ? "" : "t";
  return `rp${root}${mine ? "e" : ""}${mine || moderator ? "d" : ""}${pin}${pinned}`;
}

/** What changes every message's permissions: the room, its kind, the role, removal, pins. */
export function permissionContext(ui) {
  const room = ui.room;
  if (!room) return "";
  const pins = (room.pins ?? []).map((pin) => pin.message.id).join(",");
  return `${room.id}:${room.kind}:${room.role}:${ui.removed}:${pins}`;
}

/**
 * A new timeline node for an entry: `author`, `via` (the name a webhook's payload gave,
 * or null), `at` (a Date), `continued` (the author's run goes on) and either `pending`
 * (a send awaiting its ack, drawn once) or no more (a message: drawMessage draws it).
 */
export function messageNode({ author, via, at, continued, pending }, me) {
  const li = el("li", "msg");
  li.classList.toggle("msg-continued", continued);
  li.classList.toggle("msg-mine", author.id === me.id);
  const side = timeNode(at, "msg-side-time");
  side.setAttribute("aria-hidden", "true");
  const meta = el("div", "msg-meta");
  meta.append(personButton(author, "msg-author"), " ");
  if (author.is_bot) meta.append(botBadge(author), " ");
  // Who it really is: a display name can look like anyone's; a username is unique.
  if (author.username && author.username !== author.display_name) {
    meta.append(el("span", "msg-username", `@${author.username}`), " ");
  }
  if (via) meta.append(el("span", "msg-via", t("via %s", via)), " ");
  meta.append(timeNode(at, "msg-time"));
  const main = el("div", "msg-main");
  main.append(meta);
  const face = avatar(author.display_name, author.id, "msg-avatar", author.avatar);
  li.append(personFace(face, author), side, main);
  if (pending) {
    li.classList.add("msg-pending", `msg-${pending.state}`);
    if (pending.reply_to) main.append(quoteNode(pending.reply_to, { link: false }));
    main.append(el("div", "msg-body msg-plain", pending.body));
    if (pending.attachments?.length) main.append(attachmentsNode(pending.attachments));
    main.append(pendingStatus(pending));
    return li;
  }
  const reactions = el("ul", "msg-reactions");
  reactions.setAttribute("aria-label", t("Reactions"));
  main.append(el("div", "msg-text"), reactions);
  li.append(actionsNode());
  return li;
}

/**
 * Brings a message node from `before` (the message drawn there, or null) up to `message`
 * in place, part by part, so that focus and an open editor or picker survive an edit,
 * a reaction or a change of role elsewhere.
 */
export function drawMessage(li, message, before, permissions, me) {
  li.classList.toggle("msg-deleted", Boolean(message.deleted));
  li.classList.toggle(
    "msg-mentions-me",
    !message.deleted && (message.mentions ?? []).includes(me.id),
  );
  const main = li.querySelector(".msg-main");
  if (!before || before.reply_to !== message.reply_to) {
    main.querySelector(":scope > .msg-quote")?.remove();
    if (message.reply_to) main.querySelector(".msg-meta").after(quoteNode(message.reply_to));
  }
  const textChanged =
    !before ||
    ["html", "body", "deleted", "edited_at"].some((field) => before[field] !== message[field]);
  if (textChanged) fillText(main.querySelector(".msg-text"), message, me);
  if (!before || attachmentsKey(before.attachments) !== attachmentsKey(message.attachments)) {
    main.querySelector(":scope > .msg-attachments")?.remove();
    if (message.attachments?.length) {
      main.querySelector(".msg-text").after(attachmentsNode(message.attachments));
    }
  }
  fillReactions(li, message, permissions.includes("r"), me);
  showPinned(li, permissions.includes("*"));
  if (!before || before.thread !== message.thread) drawThreadLine(main, message, me);
  const bar = li.querySelector(".msg-actions");
  const focused = bar.contains(document.activeElement) ? document.activeElement : null;
  let shown = false;
  for (const { action, need } of ACTIONS) {
    const allowed = permissions.includes(need);
    bar.querySelector(`[data-action="${action}"]`).hidden = !allowed;
    shown ||= allowed;
  }
  bar.hidden = !shown;
  // Pinned or unpinned from its own button: focus goes to the button that undoes it.
  const swap = { pin: "unpin", unpin: "pin" }[focused?.dataset.action];
  if (focused?.hidden && swap) bar.querySelector(`[data-action="${swap}"]:not([hidden])`)?.focus();
}

/** A pinned message says so, above its text. */
function showPinned(li, pinned) {
  li.classList.toggle("msg-pinned", pinned);
  const main = li.querySelector(".msg-main");
  const mark = main.querySelector(":scope > .msg-pin-mark");
  if (pinned && !mark) {
    const node = el("p", "msg-pin-mark");
    node.append(svgIcon(PIN_PATH), t("Pinned"));
    main.querySelector(".msg-text").before(node);
  } else if (!pinned) {
    mark?.remove();
  }
}

/**
 * The line under a message that leads to its thread: a root's summary ("3 replies ·
 * Last reply 10:05 · Bob, Alice", marked while it has replies the user has not seen), or,
 * on a thread reply also sent to the room, where it was answered.
 */
function drawThreadLine(main, message, me) {
  const old = main.querySelector(":scope > .thread-line");
  const focused = old?.contains(document.activeElement);
  old?.remove();
  let line = null;
  if (message.thread_root) {
    line = button("thread-line thread-origin", t("Replied in a thread"));
    line.dataset.root = message.thread_root;
  } else if (message.thread) {
    line = threadSummaryNode(message, me);
  }
  if (!line) return;
  line.dataset.action = "thread";
  line.setAttribute("aria-controls", "thread-panel");
  main.querySelector(".msg-reactions").before(line);
  if (focused) line.focus(); // a new reply redrew the line the reader was on
}

const REPLIERS_SHOWN = 3;

/** A root's thread summary as a button (`data-root` names the root). */
export function threadSummaryNode(root, me) {
  const { replies, last_reply_at: lastAt, repliers } = root.thread;
  const node = button("thread-line thread-summary");
  node.dataset.root = root.id;
  const unread = threadUnread(root, me.id);
  node.classList.toggle("thread-unread", unread);
  const count = replies === 1 ? t("1 reply") : t("%s replies", replies);
  const names = repliers.slice(0, REPLIERS_SHOWN).map((user) => user.display_name);
  const when = timeNode(new Date(lastAt), "thread-last");
  node.append(
    el("span", "thread-count", count),
    " · ",
    el("span", "thread-when", t("Last reply")),
    " ",
    when,
  );
  if (names.length) node.append(" · ", el("span", "thread-who", names.join(", ")));
  if (unread) node.append(" ", el("span", "thread-new", t("New replies")));
  return node;
}

/** The user has now seen a thread: its summaries in the page lose their mark. */
export function markSummariesSeen(rootId) {
  for (const node of document.querySelectorAll(`.thread-summary[data-root="${Number(rootId)}"]`)) {
    node.classList.remove("thread-unread");
    node.querySelector(".thread-new")?.remove();
  }
}

// A message over this many lines (or characters) shows its start, with "Show more".
const LONG_LINES = 20;
const LONG_CHARS = 2000;

function fillText(container, message, me) {
  container.classList.remove("msg-long", "msg-expanded");
  if (message.deleted) {
    container.replaceChildren(el("div", "msg-body msg-tombstone", t("This message was deleted")));
    return;
  }
  container.replaceChildren(messageBody(message, me));
  const lines = message.body.split("\n", LONG_LINES + 1).length;
  if (lines > LONG_LINES || message.body.length > LONG_CHARS) {
    container.classList.add("msg-long");
    const more = button("msg-more button-link", t("Show more"));
    more.dataset.action = "more";
    more.setAttribute("aria-expanded", "false");
    container.append(more);
  }
  if (message.edited_at) {
    const edited = el("span", "msg-edited", t("(edited)"));
    edited.title = t("Edited %s", fullFormat.format(new Date(message.edited_at)));
    container.append(" ", edited);
  }
}

/** A message's text as a `.msg-body` (no html, an older message: plain, newlines kept). */
export function messageBody(message, me) {
  const body = el("div", "msg-body");
  body.classList.toggle("msg-plain", !message.html);
  body.append(renderMessageText(message.html, message.body, { me: me.username }));
  return body;
}

/** A reply's quote of its parent; `link`: a button that shows the parent. */
function quoteNode(quote, { link = true } = {}) {
  const node = link ? button("msg-quote") : el("div", "msg-quote");
  if (link) {
    node.dataset.action = "quote";
    node.dataset.seq = quote.seq;
    node.title = t("Show the original message");
  }
  node.append(hiddenText(`${t("In reply to")} `));
  if (quote.deleted) {
    node.append(el("span", "msg-quote-excerpt msg-quote-deleted", t("deleted message")));
  } else {
    node.append(
      el("span", "msg-quote-author", quote.author.display_name),
      " ",
      el("span", "msg-quote-excerpt", quote.excerpt),
    );
  }
  return node;
}

function fillReactions(li, message, canReact, me) {
  const list = li.querySelector(".msg-reactions");
  const reactions = message.deleted ? [] : (message.reactions ?? []);
  const hadFocus = list.contains(document.activeElement);
  list.hidden = reactions.length === 0;
  reconcile(
    list,
    reactions.map((reaction) => ({ key: reaction.emoji, reaction })),
    (item) => {
      const chip = button("reaction");
      chip.dataset.action = "react";
      chip.dataset.emoji = item.reaction.emoji;
      const node = el("li");
      node.append(chip);
      fillChip(chip, item.reaction, canReact, me);
      return node;
    },
    (node, item) => fillChip(node.firstElementChild, item.reaction, canReact, me),
  );
  // The chip that had focus went with its last reaction: keep focus in the message.
  if (hadFocus && !list.contains(document.activeElement)) {
    li.querySelector('[data-action="picker"]:not([hidden])')?.focus();
  }
}

function fillChip(chip, reaction, canReact, me) {
  const mine = reaction.users.includes(me.id);
  chip.disabled = !canReact;
  chip.setAttribute("aria-pressed", String(mine));
  chip.setAttribute("aria-label", t("%s, reacted by %s", reaction.emoji, reaction.users.length));
  const emoji = el("span", "reaction-emoji", reaction.emoji);
  const count = el("span", "reaction-count", String(reaction.users.length));
  chip.replaceChildren(emoji, count);
}

/** One action's button (an entry of ACTIONS), for the timeline's toolbar and the thread panel's. */
export function actionButton({ action, label, path }) {
  const node = button("msg-action");
  node.dataset.action = action;
  node.setAttribute("aria-label", t(label));
  node.title = t(label);
  node.append(svgIcon(path));
  if (action === "picker") {
    node.setAttribute("aria-haspopup", "true");
    node.setAttribute("aria-expanded", "false");
  }
  return node;
}

function actionsNode() {
  const bar = el("div", "msg-actions");
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", t("Message actions"));
  bar.append(...ACTIONS.map(actionButton));
  return bar;
}

/** The reaction picker for a message: the quick emoji, pressed where the user reacted. */
export function pickerNode(message, me) {
  const picker = el("div", "reaction-picker");
  picker.setAttribute("role", "group");
  picker.setAttribute("aria-label", t("Pick a reaction"));
  for (const emoji of QUICK_EMOJI) {
    const option = button("reaction-option", emoji);
    option.dataset.action = "pick";
    option.dataset.emoji = emoji;
    option.setAttribute("aria-label", t("React with %s", emoji));
    option.setAttribute("aria-pressed", String(reactedWith(message, emoji, me.id)));
    picker.append(option);
  }
  const more = button("reaction-option reaction-more", "+");
  more.dataset.action = "more-emoji";
  more.setAttribute("aria-label", t("More emoji"));
  more.title = t("More emoji");
  more.setAttribute("aria-haspopup", "dialog");
  picker.append(more);
  return picker;
}

/** The inline editor's form for message `seq`, holding `body`. */
/**
 * The inline editor of a message: Enter (or Save) calls `save()`, Esc `cancel()` (and
 * goes no further: an editor inside a panel leaves the panel open).
 */
export function editorNode(seq, body, { save: onSave, cancel: onCancel }) {
  const form = el("form", "msg-editor");
  const input = el("textarea", "msg-editor-input");
  input.value = body;
  input.rows = 1;
  input.setAttribute("aria-label", t("Edit message"));
  const hintId = `edit-hint-${seq}`;
  input.setAttribute("aria-describedby", hintId);
  const hint = el("p", "msg-editor-hint", t("Enter to save, Esc to cancel"));
  hint.id = hintId;
  const save = el("button", "button button-small", t("Save"));
  save.type = "submit";
  const cancel = button("button button-secondary button-small", t("Cancel"));
  cancel.dataset.action = "edit-cancel";
  const buttons = el("div", "msg-editor-buttons");
  buttons.append(save, cancel, hint);
  form.append(input, buttons);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onSave();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      onSave();
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      onCancel();
    }
  });
  return form;
}

function pendingStatus(pending) {
  const status = el("p", "msg-status");
  if (pending.state === "sending") {
    status.textContent = t("Sending…");
    return status;
  }
  const retry = el("button", "button-link", t("Retry"));
  const discard = el("button", "button-link", t("Discard"));
  for (const [node, action] of [[retry, "retry"], [discard, "discard"]]) {
    node.type = "button";
    node.dataset.action = action;
    node.dataset.id = pending.id;
  }
  const error = el("span", "msg-error", t("Not sent: %s", pending.detail));
  status.append(error, " ", retry, " ", discard);
  return status;
}
