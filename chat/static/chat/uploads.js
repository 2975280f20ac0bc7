// Attachments in the browser: the composer's tray of uploads (attach button, paste,
// drag and drop, progress and errors) and how a message shows its files.
// The server judges every file; the size check here only spares a doomed upload.
import { uploadFile } from "./api.js";
import { el } from "./dom.js";
import { t } from "./i18n.js";

const MAX_ATTACHMENTS = 10;
// The largest box a thumbnail is drawn in, in CSS pixels (the server makes 320 px ones).
const THUMB_BOX = 240;

/** A byte count for people: 912 B, 14 KB, 3.2 MB. */
export function formatSize(bytes) {
  if (bytes < 1024) return t("%s B", bytes);
  if (bytes < 1024 * 1024) return t("%s KB", Math.round(bytes / 1024));
  return t("%s MB", (bytes / (1024 * 1024)).toFixed(1));
}

/** A message's attachments: images as thumbnails that open the full image, other files
 * as download links with name and size. */
export function attachmentsNode(attachments) {
  const list = el("ul", "msg-attachments");
  list.setAttribute("aria-label", t("Attachments"));
  for (const attachment of attachments) {
    const item = el("li");
    const link = el("a");
    link.href = attachment.url;
    if (attachment.thumb_url) {
      link.className = "attachment-image";
      link.target = "_blank";
      link.rel = "noopener";
      link.title = attachment.name;
      const image = el("img");
      image.src = attachment.thumb_url;
      image.alt = attachment.name;
      image.loading = "lazy";
      if (attachment.width && attachment.height) {
        const scale = Math.min(1, THUMB_BOX / Math.max(attachment.width, attachment.height));
        image.width = Math.max(1, Math.round(attachment.width * scale));
        image.height = Math.max(1, Math.round(attachment.height * scale));
      }
      link.append(image);
    } else {
      link.className = "attachment-file";
      link.download = attachment.name;
      link.append(
        el("span", "attachment-name", attachment.name),
        el("span", "attachment-size", formatSize(attachment.size)),
      );
    }
    item.append(link);
    list.append(item);
  }
  return list;
}

/** A message's text for a one-line preview: its body, or for a message of files
 * alone their names ("📎 a.png, b.pdf"). */
export function textOf(message) {
  if (message.body || !message.attachments?.length) return message.body;
  return `📎 ${message.attachments.map((a) => a.name).join(", ")}`;
}

/** Which attachments a message shows, as a key that changes only when they do. */
export const attachmentsKey = (attachments) => (attachments ?? []).map((a) => a.id).join(",");

/**
 * The uploads waiting in the composer. Each file uploads at once into the open room;
 * the send then carries the ids of the finished ones.
 * els: {form, input (the textarea), picker (input type=file), button, tray}.
 */
export class UploadTray extends EventTarget {
  #els;
  #roomId;
  #maxBytes;
  #items = [];
  #next = 0;

  constructor(els, { roomId, maxBytes }) {
    super();
    this.#els = els;
    this.#roomId = roomId;
    this.#maxBytes = maxBytes;
    this.#bind();
  }

  /** The finished uploads, in the order they were added. */
  ready() {
    return this.#items.filter((item) => item.state === "done").map((item) => item.attachment);
  }

  busy() {
    return this.#items.some((item) => item.state === "uploading");
  }

  clear() {
    this.#items = [];
    this.#render();
  }

  add(files) {
    const roomId = this.#roomId();
    if (roomId === null) return;
    for (const file of files) {
      if (this.#items.length >= MAX_ATTACHMENTS) break;
      const item = { key: this.#next++, name: file.name || t("pasted image"), size: file.size };
      item.room = roomId;
      this.#items.push(item);
      if (this.#maxBytes && file.size > this.#maxBytes) {
        item.state = "failed";
        item.detail = t("Files are limited to %s.", formatSize(this.#maxBytes));
        continue;
      }
      item.state = "uploading";
      item.progress = 0;
      uploadFile(roomId, file, (share) => {
        item.progress = share;
        this.#render();
      }).then(
        (attachment) => this.#settle(item, { state: "done", attachment }),
        (error) => this.#settle(item, { state: "failed", detail: error.detail }),
      );
    }
    this.#render();
  }

  #settle(item, changes) {
    if (!this.#items.includes(item)) return; // removed, or the room changed, meanwhile
    Object.assign(item, changes);
    this.#render();
  }

  #remove(key) {
    this.#items = this.#items.filter((item) => item.key !== key);
    this.#render();
    this.#els.input.focus();
  }

  #render() {
    const tray = this.#els.tray;
    tray.hidden = this.#items.length === 0;
    tray.replaceChildren(
      ...this.#items.map((item) => {
        const li = el("li", `upload upload-${item.state}`);
        li.append(el("span", "upload-name", item.name));
        if (item.state === "uploading") {
          const bar = el("progress", "upload-progress");
          bar.max = 1;
          bar.value = item.progress;
          bar.setAttribute("aria-label", t("Uploading %s", item.name));
          li.append(bar);
        } else if (item.state === "failed") {
          li.append(el("span", "upload-error", t("Not uploaded: %s", item.detail)));
        } else {
          li.append(el("span", "upload-size", formatSize(item.attachment.size)));
        }
        const remove = el("button", "upload-remove", "×");
        remove.type = "button";
        remove.title = t("Remove %s", item.name);
        remove.setAttribute("aria-label", remove.title);
        remove.addEventListener("click", () => this.#remove(item.key));
        li.append(remove);
        return li;
      }),
    );
    this.dispatchEvent(new Event("change"));
  }

  #bind() {
    const { form, input, picker, button } = this.#els;
    button.addEventListener("click", () => picker.click());
    picker.addEventListener("change", () => {
      this.add([...picker.files]);
      picker.value = "";
    });
    input.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData?.files ?? [])];
      if (files.length === 0) return;
      event.preventDefault();
      this.add(files);
    });
    const carriesFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes("Files");
    form.addEventListener("dragover", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      form.classList.add("composer-drop");
    });
    form.addEventListener("dragleave", (event) => {
      if (!form.contains(event.relatedTarget)) form.classList.remove("composer-drop");
    });
    form.addEventListener("drop", (event) => {
      form.classList.remove("composer-drop");
      if (!carriesFiles(event)) return;
      event.preventDefault();
      this.add([...event.dataTransfer.files]);
    });
  }
}
