// Collections and the legal basis their data is held under: the list with each policy, a new
// collection (admin), a policy changed (admin, logged), a collection deleted after its name
// is typed (admin), and a collection's images browsed and deleted (enroller).

import { $, api, busy, el, field, may, say, when } from "../core.js";
import { fileName } from "../evidence.js";
import { askFirst, count, tableBox } from "./admin-parts.js";

const BASES = [
  ["consent", "Consent of the people in it"],
  ["contract", "A contract with them"],
  ["legal-obligation", "A legal obligation"],
  ["public-task", "A public task"],
  ["law-enforcement", "Law enforcement"],
  ["other", "Other (say what)"],
];

let section = null;

const policyWords = (p) => (p
  ? `${p.basis}${p.basis_text ? ` (${p.basis_text})` : ""}; ${p.jurisdictions.join(", ")}; ` +
    `${p.purpose}; kept ${p.retention_days} days${p.seal_locations ? "; locations sealed" : ""}`
  : "no legal basis declared: nothing can be added until an admin declares one");

/** The policy fields, filled from `p` when editing. */
function policyFields(prefix, p) {
  const basis = el("select", { id: `${prefix}-basis`, name: "basis", required: true },
    BASES.map(([value, label]) => el("option", { value, selected: p?.basis === value }, label)));
  return [
    field("Legal basis", basis),
    field("What the basis is (for other)", el("input", { id: `${prefix}-basis-text`,
      name: "basis_text", value: p?.basis_text || "", autocomplete: "off" })),
    field("Jurisdictions", el("input", { id: `${prefix}-jurisdictions`, name: "jurisdictions",
      required: true, value: p ? p.jurisdictions.join(", ") : "", autocomplete: "off" }),
    "ISO 3166 codes, comma separated: GB, US-IL, EU"),
    field("Purpose", el("input", { id: `${prefix}-purpose`, name: "purpose", required: true,
      minlength: "3", value: p?.purpose || "", autocomplete: "off" })),
    field("Retention (days)", el("input", { id: `${prefix}-retention-days`,
      name: "retention_days", type: "number", min: "1", required: true,
      value: p ? String(p.retention_days) : "365" })),
    el("label", { class: "inline" }, el("input", { id: `${prefix}-seal`, type: "checkbox",
      name: "seal_locations", checked: p?.seal_locations }),
    " Seal image locations (file paths often name the person)"),
  ];
}

function policyBody(form) {
  const data = new FormData(form);
  const text = String(data.get("basis_text") || "").trim();
  return {
    basis: data.get("basis"),
    basis_text: text || null,
    jurisdictions: String(data.get("jurisdictions")).split(",").map((j) => j.trim())
      .filter(Boolean),
    purpose: String(data.get("purpose")).trim(),
    retention_days: Number(data.get("retention_days")),
    seal_locations: data.get("seal_locations") === "on",
  };
}

/** What the form lacks before the server is asked (the server checks it all again). */
function policyProblem(body) {
  if (body.basis === "other" && !body.basis_text) {
    return "The basis 'other' needs a text saying what the basis is.";
  }
  if (!body.jurisdictions.length) return "Give at least one jurisdiction (GB, US-IL, EU).";
  if (body.purpose.length < 3) return "Say the collection's purpose (at least 3 characters).";
  return null;
}

function editPolicy(name, policy, returnTo) {
  const holder = $("#collection-detail", section);
  const button = el("button", { type: "submit", id: "policy-save" }, "Save the policy");
  const form = el("form", { id: "policy-form", novalidate: true },
    el("h2", { class: "form-title", id: "policy-title", tabindex: "-1" },
      `Legal basis of ${name}`),
    policyFields("policy", policy), button,
    el("button", { type: "button", class: "secondary", onclick: () => {
      holder.replaceChildren();
      returnTo.focus();
    } }, "Cancel"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(button, async () => {
      const body = policyBody(form);
      const problem = policyProblem(body);
      if (problem) return say(problem);
      await api(`/collections/${encodeURIComponent(name)}/policy`, { method: "PUT", json: body });
      holder.replaceChildren();
      say(`The legal basis of ${name} is saved (logged).`, "notice");
      await loadList();
    });
  });
  holder.replaceChildren(form);
  $("#policy-title", form).focus();
}

function deleteCollection(name, counts, returnTo) {
  const typed = el("input", { id: "delete-collection-name", autocomplete: "off",
    spellcheck: "false" });
  const box = askFirst($("#collection-detail", section), {
    id: "delete-collection",
    summary: `Delete the collection ${name}: its ${count(counts.images, "image")} and ` +
      `${count(counts.faces_indexed, "indexed face")} are erased from the store, the index ` +
      "and every cache. This cannot be undone.",
    confirmLabel: "Delete collection",
    returnTo,
    onConfirm: (yes, close) => busy(yes, async () => {
      if (typed.value.trim() !== name) {
        typed.focus();
        return say(`Type the collection's name, ${name}, to confirm.`);
      }
      const done = await api(`/collections/${encodeURIComponent(name)}`, { method: "DELETE" });
      close();
      say(`Collection ${name} deleted: ${count(done.faces_removed, "face")} removed.`, "notice");
      await loadList();
    }),
  });
  box.insertBefore(field(`Type ${name} to confirm`, typed), box.lastChild);
}

async function browse(name) {
  const holder = $("#collection-detail", section);
  const images = await api(`/collections/${encodeURIComponent(name)}/images?limit=500`);
  const rows = images.map((image) => {
    const cell = el("span", { class: "actions" });
    if (may("delete")) {
      const remove = el("button", { type: "button", class: "danger",
        "aria-label": `Delete image #${image.image_id}` }, "Delete");
      remove.addEventListener("click", () => askFirst(cell, {
        id: `delete-image-${image.image_id}`,
        summary: `Delete image #${image.image_id} and its ${count(image.face_ids.length, "face")}` +
          " from the store, the index and every cache?",
        confirmLabel: "Delete image",
        returnTo: remove,
        onConfirm: (yes) => busy(yes, async () => {
          const done = await api(`/images/${image.image_id}`, { method: "DELETE" });
          say(`Image #${image.image_id} deleted: ${count(done.faces_removed, "face")} ` +
            "removed.", "notice");
          await browse(name);
        }),
      }));
      cell.append(remove);
    }
    const p = image.provenance;
    return [`${fileName(image.location)} (image #${image.image_id})`,
      `${image.width} × ${image.height}`, String(image.face_ids.length),
      [p.origin_url, p.page_url, p.licence_ref].filter(Boolean).join(" · ") || "none recorded",
      when(image.ingested_at), cell];
  });
  holder.replaceChildren(
    el("h2", { id: "images-title", tabindex: "-1" }, `Images in ${name}`),
    images.length ? tableBox(`Images in ${name}`,
      ["Image", "Pixels", "Faces", "Provenance", "Ingested", "Actions"], rows, "images-table")
      : el("p", {}, "No image in this collection yet."));
  if (images.length === 500) holder.append(el("p", { class: "hint" }, "The first 500 shown."));
  $("#images-title", holder).focus();
}

async function loadList() {
  const names = await api("/collections");
  const details = await Promise.all(names.map((n) => api(`/collections/${encodeURIComponent(n)}`)));
  const rows = details.map((c) => {
    const actions = el("span", { class: "actions" });
    const add = (label, id, action) => {
      const button = el("button", { type: "button", class: "secondary", id,
        "aria-label": `${label}: ${c.name}` }, label);
      button.addEventListener("click", () => busy(button, () => action(button)));
      actions.append(button, " ");
    };
    if (may("browse")) add("Images", `images-${c.name}`, () => browse(c.name));
    if (may("manage_collections")) {
      add("Edit policy", `edit-${c.name}`, (b) => editPolicy(c.name, c.policy, b));
      add("Delete", `delete-${c.name}`, (b) => deleteCollection(c.name, c, b));
    }
    return [c.name, String(c.images), String(c.faces_indexed), policyWords(c.policy), actions];
  });
  $("#collection-list", section).replaceChildren(rows.length
    ? tableBox("Collections", ["Name", "Images", "Faces", "Legal basis", "Actions"], rows,
      "collections-table")
    : el("p", {}, "No collection yet."));
}

function build(root) {
  section = root;
  root.append(el("h1", { id: "collections-title" }, "Collections"),
    el("p", { class: "hint" }, "Each collection is held under a legal basis, for a purpose, " +
      "for a set time; nothing can be added to one without it."),
    el("div", { id: "collection-list" }), el("div", { id: "collection-detail" }));
  if (!may("manage_collections")) return;
  const button = el("button", { type: "submit", id: "collection-create" }, "Create collection");
  const form = el("form", { id: "collection-form", novalidate: true },
    el("h2", { class: "form-title" }, "New collection"),
    field("Name", el("input", { id: "collection-name", name: "name", required: true,
      autocomplete: "off" })),
    policyFields("new", null), button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(button, async () => {
      const name = form.name.value.trim();
      if (!name) return say("Give the new collection a name.");
      const body = policyBody(form);
      const problem = policyProblem(body);
      if (problem) return say(problem);
      await api("/collections", { method: "POST", json: { name, ...body } });
      form.reset();
      say(`Collection ${name} created.`, "notice");
      await loadList();
    });
  });
  root.append(form);
}

export default {
  id: "collections", title: "Collections", needs: ["view_collections"], build,
  shown: () => loadList(),
  forget() {
    section = null;
  },
};
