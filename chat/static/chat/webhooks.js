// The members panel's webhooks (owners and admins): make one by name, copy its URL (it
// comes only once), see the live ones and revoke them (secretlist.js does the list; this
// says what a webhook is). Each posts as a bot of its own name.
import { createWebhook, listWebhooks, revokeWebhook } from "./api.js";
import { byId, el, whenFormat } from "./dom.js";
import { t } from "./i18n.js";
import { SecretList } from "./secretlist.js";

export class Webhooks extends SecretList {
  constructor() {
    const name = byId(["webhook-name"])["webhook-name"];
    super({
      prefix: "webhook",
      list: async (room) => (await listWebhooks(room)).webhooks,
      create: (room) => createWebhook(room, { name: name.value }),
      revoke: revokeWebhook,
      listed: () => null, // the answer is {id, name, url}: the list is loaded again
      reset: () => {
        name.value = "";
      },
      firstField: () => name,
      describe: (webhook) => {
        const made = whenFormat.format(new Date(webhook.created_at));
        return {
          text: [
            el("span", "webhook-name", webhook.name),
            el("br"),
            el("span", "muted", t("By %s, %s", webhook.created_by.display_name, made)),
          ],
          label: t("Revoke the webhook %s", webhook.name),
        };
      },
      words: {
        loading: "Loading webhooks…",
        loadFailed: "Could not load the webhooks: %s",
        none: "No webhooks.",
        count: "%s webhooks",
        createFailed: "Could not create the webhook: %s",
        confirmRevoke: "Revoke this webhook? Nothing can post through it afterwards.",
        revokeFailed: "Could not revoke the webhook: %s",
      },
    });
  }
}
