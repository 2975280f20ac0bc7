// The members panel's webhooks (owners and admins): make one by name, copy its URL (it
// comes only once), see the live ones and revoke them. Each posts as a bot of its own
// name; the server decides who may, and a refusal shows its reason here.
import { createWebhook, listWebhooks, revokeWebhook } from "./api.js";
import { button, byId, el, reconcile, whenFormat } from "./dom.js";
import { t } from "./i18n.js";

export class Webhooks {
  #els;
  // The room whose webhooks are shown (null: hidden), and a generation so answers for a
  // room no longer shown go unused.
  #room = null;
  #generation = 0;
  #webhooks = [];

  constructor() {
    this.#els = byId([
      "webhooks", "webhook-form", "webhook-name", "webhook-new", "webhook-url", "webhook-copy",
      "webhooks-error", "webhooks-status", "webhook-list",
    ]);
    this.#bind();
  }

  /** Shows the webhooks of `roomId` when `manager` (loading them once per room), else hides them. */
  show(roomId, manager) {
    const els = this.#els;
    const room = manager ? roomId : null;
    els["webhooks"].hidden = room === null;
    if (room === this.#room) return;
    this.#room = room;
    this.#webhooks = [];
    els["webhook-new"].hidden = true;
    els["webhook-url"].value = "";
    this.#showError(null);
    this.#draw();
    if (room !== null) this.#load();
  }

  /** The next `show` loads the webhooks afresh (the panel was opened again). */
  forget() {
    this.#room = null;
  }

  async #load() {
    const room = this.#room;
    const generation = ++this.#generation;
    this.#els["webhooks-status"].textContent = t("Loading webhooks…");
    try {
      const { webhooks } = await listWebhooks(room);
      if (generation !== this.#generation) return;
      this.#webhooks = webhooks;
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#showError(t("Could not load the webhooks: %s", error.detail));
    }
    this.#draw();
  }

  #draw() {
    const count = this.#webhooks.length;
    this.#els["webhooks-status"].textContent =
      count === 0 ? t("No webhooks.") : t("%s webhooks", count);
    reconcile(
      this.#els["webhook-list"],
      this.#webhooks.map((webhook) => ({ key: String(webhook.id), webhook })),
      (item) => this.#fill(el("li", "webhook"), item.webhook),
      (li, item) => this.#fill(li, item.webhook),
    );
  }

  #fill(li, webhook) {
    const signature = JSON.stringify(webhook);
    if (li.dataset.signature === signature) return li;
    li.dataset.signature = signature;
    const made = whenFormat.format(new Date(webhook.created_at));
    const text = el("span", "webhook-text");
    text.append(
      el("span", "webhook-name", webhook.name),
      el("br"),
      el("span", "muted", t("By %s, %s", webhook.created_by.display_name, made)),
    );
    const revoke = button("button button-secondary button-small webhook-revoke", t("Revoke"));
    revoke.dataset.webhook = String(webhook.id);
    revoke.setAttribute("aria-label", t("Revoke the webhook %s", webhook.name));
    li.replaceChildren(text, revoke);
    return li;
  }

  #showError(text) {
    const node = this.#els["webhooks-error"];
    node.textContent = text ?? "";
    node.hidden = !text;
  }

  async #create() {
    const els = this.#els;
    const room = this.#room;
    try {
      const webhook = await createWebhook(room, { name: els["webhook-name"].value });
      if (room !== this.#room) return;
      this.#showError(null);
      els["webhook-name"].value = "";
      els["webhook-url"].value = webhook.url;
      els["webhook-copy"].textContent = t("Copy");
      els["webhook-new"].hidden = false;
      els["webhook-url"].focus();
      els["webhook-url"].select();
      this.#load();
    } catch (error) {
      this.#showError(t("Could not create the webhook: %s", error.detail));
    }
  }

  async #revoke(webhookId, trigger) {
    const room = this.#room;
    if (!window.confirm(t("Revoke this webhook? Nothing can post through it afterwards."))) return;
    try {
      await revokeWebhook(room, webhookId);
      if (room !== this.#room) return;
      this.#showError(null);
      const item = trigger.closest("li");
      const neighbour = item?.nextElementSibling ?? item?.previousElementSibling;
      this.#webhooks = this.#webhooks.filter((webhook) => webhook.id !== webhookId);
      this.#draw();
      (neighbour?.querySelector("button") ?? this.#els["webhook-name"]).focus();
    } catch (error) {
      this.#showError(t("Could not revoke the webhook: %s", error.detail));
    }
  }

  async #copy() {
    const input = this.#els["webhook-url"];
    const copyButton = this.#els["webhook-copy"];
    try {
      await navigator.clipboard.writeText(input.value);
      copyButton.textContent = t("Copied");
    } catch {
      input.focus();
      input.select();
      copyButton.textContent = t("Press Ctrl+C to copy");
    }
  }

  #bind() {
    const els = this.#els;
    els["webhook-form"].addEventListener("submit", (event) => {
      event.preventDefault();
      this.#create();
    });
    els["webhook-copy"].addEventListener("click", () => this.#copy());
    els["webhook-list"].addEventListener("click", (event) => {
      const target = event.target.closest("button[data-webhook]");
      if (target) this.#revoke(Number(target.dataset.webhook), target);
    });
  }
}
