// The composer and what sits around it: the reply bar, the note on a direct message
// that cannot reach the other person, the join bar of a public room, and the line
// saying who is typing (and, the other way, telling the room that the user is).
// The upload tray in the composer is uploads.js's UploadTray; each room's unsent text is
// kept in drafts.js's Drafts.
import { button, byId, el, svgIcon } from "./dom.js";
import { t } from "./i18n.js";
import { SMILE_PATH } from "./message.js";

// Tell the room at most this often that the user is typing; forget a typist after TYPING_MS.
const TYPING_EVERY_MS = 3000;
const TYPING_MS = 6000;

export class Composer {
  #els;
  #ui;
  #drafts;
  #on;
  // Who is typing where: room id → Map(user id → {user, timer}).
  #typists = new Map();
  // When the user's typing was last told to the room.
  #typingSent = { room: null, at: 0 };

  /**
   * `ui` is the UiState; `drafts` the Drafts; `on` holds the callbacks: send(text) → true
   * when taken, editLast() → true when editing, typing(roomId) → true when told,
   * cancelReply(), join(), pickEmoji(button) (the emoji button was pressed).
   */
  constructor({ ui, drafts, on }) {
    this.#els = byId([
      "composer", "composer-input", "join-bar", "join-room", "typing", "reply-bar",
      "reply-bar-text", "reply-cancel", "composer-note",
    ]);
    this.#ui = ui;
    this.#drafts = drafts;
    this.#on = on;
    this.#bind();
    this.#addEmojiButton();
  }

  /** Puts `text` at the caret (over any selection) and tells the input's listeners. */
  insert(text) {
    const input = this.#els["composer-input"];
    input.focus();
    input.setRangeText(text, input.selectionStart, input.selectionEnd, "end");
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  #addEmojiButton() {
    const emoji = button("icon-button composer-emoji");
    emoji.id = "composer-emoji";
    emoji.setAttribute("aria-label", t("Insert emoji"));
    emoji.title = t("Insert emoji");
    emoji.setAttribute("aria-haspopup", "dialog");
    emoji.setAttribute("aria-expanded", "false");
    emoji.append(svgIcon(SMILE_PATH));
    emoji.addEventListener("click", () => this.#on.pickEmoji(emoji));
    this.#els["composer-input"].after(emoji);
  }

  /** The open room (ui.room) changed: post in it, join it, or neither. */
  showRoom() {
    const { room } = this.#ui;
    const els = this.#els;
    const member = this.#ui.member;
    els.composer.hidden = !member;
    els["join-bar"].hidden = this.#ui.removed || member || room.kind !== "public";
    const target = room.kind === "direct" ? room.name : `#${room.name}`;
    els["composer-input"].placeholder = t("Message %s", target);
  }

  /** The open room's unsent text, as the user left it there. */
  restoreDraft() {
    this.#els["composer-input"].value = this.#drafts.get(this.#ui.roomId);
  }

  /** Empties the composer and forgets the open room's draft. */
  clear() {
    this.#els["composer-input"].value = "";
    this.#drafts.set(this.#ui.roomId, "");
  }

  focus() {
    const input = this.#els["composer-input"];
    if (!this.#els.composer.hidden) input.focus({ preventScroll: true });
  }

  /** Shows what the next message answers (ui.replyTo: a quote {author, excerpt}), or nothing. */
  setReply(quote) {
    this.#ui.replyTo = quote;
    const { "reply-bar": bar, "reply-bar-text": text } = this.#els;
    bar.hidden = !quote;
    if (!quote) {
      text.replaceChildren();
      return;
    }
    text.replaceChildren(
      el("span", "reply-bar-label", t("Replying to %s:", quote.author.display_name)),
      " ",
      el("span", "reply-bar-excerpt", quote.excerpt),
    );
  }

  /** Why the composer cannot (or may not) reach the other person, or nothing (null). */
  showNote(text) {
    const note = this.#els["composer-note"];
    note.textContent = text ?? "";
    note.hidden = !text;
  }

  // Who is typing.

  typingStarted(roomId, user) {
    if (!this.#typists.has(roomId)) this.#typists.set(roomId, new Map());
    const inRoom = this.#typists.get(roomId);
    clearTimeout(inRoom.get(user.id)?.timer);
    const timer = setTimeout(() => this.typingStopped(roomId, user.id), TYPING_MS);
    inRoom.set(user.id, { user, timer });
    if (roomId === this.#ui.roomId) this.showTyping();
  }

  typingStopped(roomId, userId) {
    const inRoom = this.#typists.get(roomId);
    const typist = inRoom?.get(userId);
    if (!typist) return;
    clearTimeout(typist.timer);
    inRoom.delete(userId);
    if (roomId === this.#ui.roomId) this.showTyping();
  }

  /** The line naming the people typing in the open room. */
  showTyping() {
    const inRoom = this.#typists.get(this.#ui.roomId);
    const names = inRoom ? [...inRoom.values()].map((typist) => typist.user.display_name) : [];
    let text = "";
    if (names.length === 1) text = t("%s is typing…", names[0]);
    else if (names.length === 2) text = t("%s and %s are typing…", names[0], names[1]);
    else if (names.length > 2) text = t("Several people are typing…");
    this.#els.typing.textContent = text;
  }

  #send() {
    if (!this.#on.send(this.#els["composer-input"].value)) return;
    this.clear();
    // The next keystroke may say "typing" again: the message ended the last one.
    this.#typingSent = { room: null, at: 0 };
  }

  #typing() {
    const roomId = this.#ui.roomId;
    if (roomId === null) return;
    const now = Date.now();
    const sent = this.#typingSent;
    if (sent.room === roomId && now - sent.at < TYPING_EVERY_MS) return;
    if (this.#on.typing(roomId)) this.#typingSent = { room: roomId, at: now };
  }

  #bind() {
    const els = this.#els;
    els["join-room"].addEventListener("click", () => this.#on.join());
    els["reply-cancel"].addEventListener("click", () => {
      this.#on.cancelReply();
      this.focus();
    });
    els.composer.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#send();
    });
    els["composer-input"].addEventListener("keydown", (event) => {
      const modified = event.shiftKey || event.altKey || event.ctrlKey || event.metaKey;
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        // Sent at once, not through requestSubmit(): the composer has nothing to validate,
        // and Chromium's form submission steps cost time in proportion to the page (a
        // millisecond or more per send with 1,000 messages loaded).
        event.preventDefault();
        this.#send();
      } else if (event.key === "ArrowUp" && !modified && els["composer-input"].value === "") {
        // Up in an empty composer edits your last message, as in most chat apps.
        if (this.#on.editLast()) event.preventDefault();
      } else if (event.key === "Escape" && !els["reply-bar"].hidden) {
        event.preventDefault();
        event.stopPropagation();
        this.#on.cancelReply();
      }
    });
    els["composer-input"].addEventListener("input", () => {
      const text = els["composer-input"].value;
      if (this.#ui.roomId !== null) this.#drafts.set(this.#ui.roomId, text);
      if (text.trim()) this.#typing();
    });
  }
}
