// What the reader does to a message in the timeline: its buttons (react, reply, edit,
// pin, unpin, delete, retry, the quote of its parent), the reaction picker (one open at a time,
// inside its message) and the inline editor. The timeline (timeline.js) holds the
// entries; this works on the one a click, a key or the phone's menu (messagemenu.js) names.
import { t } from "./i18n.js";
import { NEEDS, editorNode, pickerNode } from "./message.js";

/** A long message's "Show more" (`expanded`) or "Show less" button, `toggle`, pressed. */
function showMore(toggle, expanded) {
  toggle.closest(".msg-text").classList.toggle("msg-expanded", expanded);
  toggle.setAttribute("aria-expanded", String(expanded));
  toggle.textContent = expanded ? t("Show less") : t("Show more");
}

export class MessageActions {
  #ui;
  #me;
  #on;
  #entryOf;
  #show;
  #menu;

  /**
   * `ui` is the UiState, `me` the user; `entryOf(key)` is the timeline's entry for a
   * key (`m:<seq>` for a message), `show(entry)` puts it in the page if it is out of it.
   * `on` holds the callbacks: retry(id), discard(id), react(message, emoji, on),
   * reply(message), edit(message, body) → true when done, remove(message),
   * pin(message, on), jumpTo(seq),
   * focusComposer(), moreEmoji(message, anchor) (the full emoji picker for a reaction),
   * openThread(root id, {focusComposer}).
   * `menu` is the MessageMenu (messagemenu.js) that offers the same actions on phones.
   */
  constructor({ ui, me, on, entryOf, show, menu }) {
    this.#menu = menu;
    this.#ui = ui;
    this.#me = me;
    this.#on = on;
    this.#entryOf = entryOf;
    this.#show = show;
  }

  /** Binds the clicks on `list` (the messages) and, to close the picker, the document's. */
  bind(list) {
    list.addEventListener("click", (event) => this.#act(event));
    this.#menu.bind(list, {
      describe: (li) => {
        const entry = this.#entryOf(li.dataset.key);
        if (!entry?.message) return null;
        return { message: entry.message, permissions: entry.permissions, me: this.#me };
      },
      choose: (li, action, options) => {
        const entry = this.#entryOf(li.dataset.key);
        if (entry?.message) this.#run(entry, action, { ...options, anchor: li });
      },
    });
    document.addEventListener("click", (event) => {
      const picker = this.#picker();
      const inside = [picker?.node, picker?.toggle].some((node) => node?.contains(event.target));
      if (picker && !inside) this.closePicker();
    });
  }

  #message(seq) {
    return seq === null ? null : (this.#entryOf(`m:${seq}`) ?? null);
  }

  #act(event) {
    const target = event.target.closest("button[data-action]");
    if (!target) return;
    const li = target.closest("li.msg");
    const entry = li && this.#entryOf(li.dataset.key);
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
      case "react":
        this.#on.react(message, emoji, !pressed);
        break;
      case "edit-cancel":
        this.endEdit({ refocus: true });
        break;
      case "quote":
        this.#on.jumpTo(Number(target.dataset.seq));
        break;
      case "thread":
        this.#on.openThread(message.thread_root ?? message.id, { focusComposer: !target.dataset.root });
        break;
      case "more":
        showMore(target, target.getAttribute("aria-expanded") !== "true");
        break;
      default:
        this.#run(entry, action, {
          emoji,
          pressed,
          anchor: li.querySelector('[data-action="picker"]'),
        });
    }
  }

  /**
   * An action on a message, from its toolbar or its menu, if the user may: `emoji` and
   * `pressed` for a quick reaction, `anchor` the node the full emoji picker floats by.
   */
  #run(entry, action, { emoji, pressed, anchor }) {
    const { message } = entry;
    if (!(action in NEEDS) || !entry.permissions.includes(NEEDS[action])) return;
    switch (action) {
      case "pick":
        this.#on.react(message, emoji, !pressed);
        this.closePicker({ refocus: true });
        break;
      case "more-emoji":
        this.closePicker();
        this.#on.moreEmoji(message, anchor);
        break;
      case "reply":
        this.#on.reply(message);
        break;
      case "edit":
        this.startEdit(message.seq);
        break;
      case "delete":
        this.#on.remove(message);
        break;
      case "pin":
      case "unpin":
        this.#on.pin(message, action === "pin");
        break;
      case "thread":
        this.#on.openThread(message.id, { focusComposer: true });
        break;
    }
  }

  /** Closes the phone's menu (another room opens). */
  closeMenu() {
    this.#menu.close();
  }

  // The reaction picker.

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
    const li = this.#message(this.#ui.picking)?.node;
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

  /** Opens the editor on a message in the timeline; false when it is not there. */
  startEdit(seq) {
    const entry = this.#message(seq);
    if (!entry?.permissions.includes("e")) return false;
    this.#show(entry);
    this.endEdit();
    this.closePicker();
    const form = editorNode(seq, entry.message.body, {
      save: () => this.#saveEdit(),
      cancel: () => this.endEdit({ refocus: true }),
    });
    const input = form.querySelector("textarea");
    entry.node.querySelector(".msg-text").after(form);
    entry.node.classList.add("msg-editing");
    this.#ui.editing = seq;
    entry.node.scrollIntoView({ block: "nearest" });
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
    return true;
  }

  #saveEdit() {
    const entry = this.#message(this.#ui.editing);
    const input = entry?.node.querySelector(".msg-editor-input");
    if (input && this.#on.edit(entry.message, input.value)) this.endEdit({ refocus: true });
  }

  endEdit({ refocus = false } = {}) {
    const entry = this.#message(this.#ui.editing);
    this.#ui.editing = null;
    if (!entry) return;
    entry.node.querySelector(".msg-editor")?.remove();
    entry.node.classList.remove("msg-editing");
    if (refocus) this.#on.focusComposer();
  }
}
