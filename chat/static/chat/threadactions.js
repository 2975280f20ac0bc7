// What the reader does to the root and the replies in the thread panel: react (the
// reactions under each and the quick reaction picker), edit inline and delete, each shown
// only with the permission letter the timeline's toolbar needs (message.js permissionsOf,
// NEEDS). Saving goes through the app's callbacks (the same Sync calls as the timeline);
// the panel redraws from the store when the server's events come back.
import { button, el } from "./dom.js";
import { t } from "./i18n.js";
import { ACTIONS, NEEDS, actionButton, editorNode, permissionsOf, pickerNode } from "./message.js";

// The timeline's actions that make sense beside a thread: the panel is the thread itself.
const SHOWN = new Set(["picker", "edit", "delete"]);

export class ThreadActions {
  #ui;
  #me;
  #on;
  #find;
  // The message (by id) whose editor or reaction picker is open, or null.
  #editing = null;
  #picking = null;

  /**
   * `ui` is the UiState, `me` the user, `find(id)` the panel's message with that id and
   * `on` the callbacks: react(message, emoji, on), edit(message, body) → true when done,
   * remove(message), moreEmoji(message, anchor).
   */
  constructor({ ui, me, find, on }) {
    this.#ui = ui;
    this.#me = me;
    this.#find = find;
    this.#on = on;
  }

  /** Forgets an open editor or picker (another thread opens, or the panel closes). */
  reset() {
    this.#editing = null;
    this.#picking = null;
  }

  /** Adds a message's reactions and its named action buttons to its entry `node`. */
  decorate(node, message) {
    node.dataset.id = message.id;
    if (message.deleted) return;
    const permissions = permissionsOf(message, this.#ui, this.#me);
    const canReact = permissions.includes("r");
    const reactions = el("ul", "msg-reactions");
    reactions.setAttribute("aria-label", t("Reactions"));
    for (const reaction of message.reactions ?? []) {
      const chip = button("reaction");
      chip.dataset.action = "react";
      chip.dataset.emoji = reaction.emoji;
      chip.disabled = !canReact;
      chip.setAttribute("aria-pressed", String(reaction.users.includes(this.#me.id)));
      chip.setAttribute("aria-label", t("%s, reacted by %s", reaction.emoji, reaction.users.length));
      chip.append(
        el("span", "reaction-emoji", reaction.emoji),
        el("span", "reaction-count", String(reaction.users.length)),
      );
      const item = el("li");
      item.append(chip);
      reactions.append(item);
    }
    reactions.hidden = reactions.childElementCount === 0;
    const bar = el("div", "msg-actions thread-actions");
    bar.setAttribute("role", "group");
    bar.setAttribute("aria-label", t("Message actions"));
    for (const spec of ACTIONS) {
      if (SHOWN.has(spec.action) && permissions.includes(spec.need)) bar.append(actionButton(spec));
    }
    node.append(reactions, bar);
  }

  /**
   * `fresh` replaces `old`, the same message's entry: an open editor or picker moves to it
   * (a reaction elsewhere must not lose an edit), and so does focus (`focused`, what had
   * it before), to the same button.
   */
  carry(old, fresh, focused) {
    const form = old.querySelector(":scope > .msg-editor");
    const deleted = fresh.querySelector(".msg-tombstone");
    if (form && !deleted) {
      fresh.querySelector(".msg-body")?.after(form);
      fresh.classList.add("msg-editing");
    } else if (form) {
      this.#editing = null;
    }
    const picker = old.querySelector(":scope > .reaction-picker");
    const toggle = fresh.querySelector('[data-action="picker"]');
    if (picker && toggle) {
      fresh.append(picker);
      toggle.setAttribute("aria-expanded", "true");
    } else if (picker) {
      this.#picking = null;
    }
    if (!focused || !old.contains(focused)) return;
    if (fresh.contains(focused)) {
      focused.focus();
      return;
    }
    const { action, emoji } = focused.dataset ?? {};
    const same = action && fresh.querySelector(
      `[data-action="${action}"]${emoji ? `[data-emoji="${CSS.escape(emoji)}"]` : ""}`,
    );
    (same ?? fresh.querySelector('[data-action="picker"]') ?? fresh).focus();
  }

  /** Handles the clicks and keys inside the panel's entries (`holder`). */
  bind(holder) {
    holder.addEventListener("click", (event) => this.#act(event));
    holder.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      const entry = event.target.closest(".thread-entry");
      if (entry?.querySelector(".reaction-picker")?.contains(event.target)) {
        event.preventDefault();
        this.#closePicker({ refocus: true });
      }
    });
  }

  #act(event) {
    const target = event.target.closest("button[data-action]");
    const node = target?.closest(".thread-entry[data-id]");
    const message = node && this.#find(Number(node.dataset.id));
    if (!message) return;
    const { action, emoji } = target.dataset;
    const pressed = target.getAttribute("aria-pressed") === "true";
    const permissions = permissionsOf(message, this.#ui, this.#me);
    if (action === "edit-cancel") {
      this.#endEdit({ refocus: true });
      return;
    }
    const need = action === "react" || action === "picker" ? "r" : NEEDS[action];
    if (!need || !permissions.includes(need)) return;
    switch (action) {
      case "react":
        this.#on.react(message, emoji, !pressed);
        break;
      case "picker":
        if (this.#picking === message.id) this.#closePicker({ refocus: true });
        else this.#openPicker(node, message, target);
        break;
      case "pick":
        this.#on.react(message, emoji, !pressed);
        this.#closePicker({ refocus: true });
        break;
      case "more-emoji":
        this.#closePicker();
        this.#on.moreEmoji(message, node.querySelector('[data-action="picker"]'));
        break;
      case "edit":
        this.#startEdit(node, message);
        break;
      case "delete":
        this.#on.remove(message);
        break;
    }
  }

  #entry(id) {
    return id === null ? null : document.querySelector(`#thread-panel .thread-entry[data-id="${id}"]`);
  }

  #openPicker(node, message, toggle) {
    this.#closePicker();
    const picker = pickerNode(message, this.#me);
    node.append(picker);
    toggle.setAttribute("aria-expanded", "true");
    this.#picking = message.id;
    picker.firstElementChild.focus();
  }

  #closePicker({ refocus = false } = {}) {
    const node = this.#entry(this.#picking);
    this.#picking = null;
    if (!node) return;
    node.querySelector(":scope > .reaction-picker")?.remove();
    const toggle = node.querySelector('[data-action="picker"]');
    toggle?.setAttribute("aria-expanded", "false");
    if (refocus) toggle?.focus();
  }

  #startEdit(node, message) {
    this.#endEdit();
    this.#closePicker();
    // Esc cancels the edit only: the panel stays open.
    const form = editorNode(`thread-${message.seq}`, message.body, {
      save: () => this.#saveEdit(),
      cancel: () => this.#endEdit({ refocus: true }),
    });
    const input = form.querySelector("textarea");
    node.querySelector(".msg-body").after(form);
    node.classList.add("msg-editing");
    this.#editing = message.id;
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  #saveEdit() {
    const message = this.#editing === null ? null : this.#find(this.#editing);
    const input = this.#entry(this.#editing)?.querySelector(".msg-editor-input");
    if (message && input && this.#on.edit(message, input.value)) this.#endEdit({ refocus: true });
  }

  #endEdit({ refocus = false } = {}) {
    const node = this.#entry(this.#editing);
    this.#editing = null;
    if (!node) return;
    node.querySelector(":scope > .msg-editor")?.remove();
    node.classList.remove("msg-editing");
    if (refocus) node.querySelector('[data-action="edit"]')?.focus();
  }
}
