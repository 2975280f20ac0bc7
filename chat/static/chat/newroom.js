// The sidebar's "New room" form: a name and public or private. The server creates the
// room (a public name already taken joins that room) and the app opens it.
import { createRoom } from "./api.js";
import { byId } from "./dom.js";
import { t } from "./i18n.js";

export class NewRoomForm {
  #els;
  #on;

  /** `on.created(room)` gets the room the server answered with. */
  constructor({ on }) {
    this.#els = byId([
      "new-room-toggle", "new-room-form", "new-room-name", "new-room-error", "new-room-cancel",
    ]);
    this.#on = on;
    this.#bind();
  }

  /** Shows or hides the form; focus goes to its name box, or back to the toggle. */
  setOpen(open) {
    const { "new-room-toggle": toggle, "new-room-form": form } = this.#els;
    form.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    this.#showError(null);
    if (open) this.#els["new-room-name"].focus();
    else toggle.focus();
  }

  #showError(text) {
    const node = this.#els["new-room-error"];
    node.textContent = text ?? "";
    node.hidden = !text;
  }

  async #submit() {
    const els = this.#els;
    const name = els["new-room-name"].value.trim();
    if (!name) {
      this.#showError(t("Give the room a name."));
      els["new-room-name"].focus();
      return;
    }
    const kind = els["new-room-form"].elements.kind.value;
    try {
      const room = await createRoom(name, kind);
      els["new-room-name"].value = "";
      this.setOpen(false);
      this.#on.created(room);
    } catch (error) {
      this.#showError(t("Could not create the room: %s", error.detail));
      els["new-room-name"].focus();
    }
  }

  #bind() {
    const els = this.#els;
    els["new-room-toggle"].addEventListener("click", () => {
      this.setOpen(els["new-room-form"].hidden);
    });
    els["new-room-cancel"].addEventListener("click", () => this.setOpen(false));
    els["new-room-form"].addEventListener("submit", (event) => {
      event.preventDefault();
      this.#submit();
    });
    els["new-room-form"].addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.stopPropagation();
        this.setOpen(false);
      }
    });
  }
}
