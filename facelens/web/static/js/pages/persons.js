// Persons: named groups of gallery faces. Enrollers create and name them, give them faces
// (by id, or chosen from a collection's images), merge and split them, say "not this
// person" of a face (and withdraw it), check their reference faces and delete them.
//
// Seeing a face's pixels takes the search permission, which no role that browses persons
// has: faces are shown by id and the name of the image they were found in.

import { $, api, busy, el, field, may, say, table, when } from "../core.js";

let persons = []; // GET /persons, as last loaded
let openId = null; // the person whose panel is open

/** "12, 13 14" -> [12, 13, 14]; null when something in it is not a face id. */
function faceIds(text) {
  const parts = String(text).split(/[\s,;]+/).filter(Boolean);
  return parts.every((p) => /^\d+$/.test(p)) ? [...new Set(parts.map(Number))] : null;
}

/** The image's own name: the last part of its location. */
const imageName = (location) => String(location || "").split(/[\\/]/).pop() || "(no name)";

/** A table's scrolling box, reachable by keyboard when a narrow screen makes it scroll. */
const wrap = (label) => ({ class: "table-wrap", tabindex: "0", role: "region", "aria-label": label });

/**
 * Choosing faces from a collection's images: a checkbox for each face, kept in step with
 * `target` (a face-ids input), which stays the one place the chosen faces are read from.
 */
function facePicker(prefix, target) {
  const collection = el("select", { id: `${prefix}-collection` });
  const list = el("div", { id: `${prefix}-faces`, class: "picker" });
  const load = el("button", { type: "button", class: "secondary" }, "Show its faces");
  const sync = () => {
    const chosen = new Set(faceIds(target.value) || []);
    for (const box of list.querySelectorAll("input[type=checkbox]")) {
      box.checked = chosen.has(Number(box.value));
    }
  };
  const toggle = (event) => {
    const id = Number(event.target.value);
    const chosen = (faceIds(target.value) || []).filter((f) => f !== id);
    if (event.target.checked) chosen.push(id);
    target.value = chosen.join(", ");
  };
  target.addEventListener("input", sync);
  load.addEventListener("click", () => busy(load, async () => {
    if (!collection.value) return;
    const images = await api(`/collections/${encodeURIComponent(collection.value)}/images?limit=1000`);
    const owner = new Map(persons.flatMap((p) => p.face_ids.map((f) => [f, p.name])));
    const rows = images.flatMap((image) => image.face_ids.map((id) => {
      const whose = owner.get(id);
      return el("li", {}, el("label", { class: "inline" },
        el("input", { type: "checkbox", value: String(id), onchange: toggle }),
        `Face ${id} of ${imageName(image.location)}`,
        whose ? el("span", { class: "hint" }, ` (now ${whose})`) : null));
    }));
    list.replaceChildren(rows.length
      ? el("ul", { class: "plain" }, rows)
      : el("p", { class: "hint" }, "No faces in this collection."));
    sync();
  }));
  const details = el("details", { class: "picker-box" },
    el("summary", {}, "Choose faces from a collection"),
    el("div", { class: "row" }, field("Collection", collection), load),
    list);
  details.addEventListener("toggle", async () => {
    if (!details.open || collection.options.length) return;
    try {
      const names = may("view_collections") ? await api("/collections") : [];
      collection.replaceChildren(...names.map((n) => el("option", { value: n }, n)));
      if (!names.length) list.replaceChildren(el("p", { class: "hint" }, "No collections to choose from."));
    } catch (error) {
      say(error.message);
    }
  });
  return details;
}

async function loadPersons(section) {
  persons = await api("/persons");
  renderList(section);
}

function renderList(section) {
  const needle = $("#persons-filter", section).value.trim().toLowerCase();
  const shown = persons.filter((p) => !needle || p.name.toLowerCase().includes(needle));
  const holder = $("#persons-list", section);
  if (!persons.length) {
    holder.replaceChildren(el("p", { class: "hint" }, "No persons yet."));
    return;
  }
  holder.replaceChildren(
    el("p", { class: "hint", id: "persons-count" },
      `${shown.length} of ${persons.length} persons shown.`),
    el("div", wrap("Persons"), table(["Name", "Faces", "Open"], shown.map((p) => [
      p.name,
      String(p.face_ids.length),
      el("button", { type: "button", class: "secondary", onclick: () => openPerson(section, p.id) },
        "Open", el("span", { class: "visually-hidden" }, ` ${p.name}`)),
    ]))));
}

/** Reload the list and the open panel after a change; `id` is the person to show then. */
async function refresh(section, id = openId) {
  await loadPersons(section);
  if (id !== null && persons.some((p) => p.id === id)) await openPerson(section, id, false);
  else closePerson(section);
}

function closePerson(section) {
  openId = null;
  $("#person-detail", section).replaceChildren();
  $("#person-detail", section).hidden = true;
}

async function openPerson(section, id, focus = true) {
  const person = persons.find((p) => p.id === id);
  if (!person) return closePerson(section);
  openId = id;
  const faces = person.face_ids.length ? await api(`/faces?person_id=${id}`) : [];
  const detail = $("#person-detail", section);
  const edit = may("ingest");
  const heading = el("h2", { id: "person-detail-title", tabindex: "-1" }, person.name);
  detail.replaceChildren(...[
    heading,
    el("p", { class: "hint" }, `Person ${person.id}, ${person.face_ids.length} faces.`),
    facesTable(section, person, faces, edit),
    edit ? renameForm(section, person) : null,
    edit ? assignForm(section, person) : null,
    edit ? splitForm(section, person) : null,
    edit ? mergeForm(section, person) : null,
    rejectionsBlock(section, person, edit),
    referencesBlock(person),
    may("delete") ? deleteBlock(section, person) : null,
    el("p", {}, el("button", { type: "button", class: "secondary",
      onclick: () => { closePerson(section); $("#persons-title", section).focus(); } }, "Close")),
  ].filter(Boolean));
  detail.hidden = false;
  if (focus) heading.focus();
}

function facesTable(section, person, faces, edit) {
  if (!faces.length) return el("p", { class: "hint" }, "No faces assigned.");
  const rows = faces.map((face) => [
    String(face.face_id),
    imageName(face.image_location),
    face.collection,
    ...(edit ? [el("label", { class: "inline" },
      el("input", { type: "checkbox", class: "split-face", value: String(face.face_id) }),
      `Move face ${face.face_id}`),
    el("button", { type: "button", class: "secondary", onclick: (event) =>
      busy(event.currentTarget, () => reject(section, person, face.face_id)) },
    "Not this person", el("span", { class: "visually-hidden" }, ` (face ${face.face_id})`))] : []),
  ]);
  const headings = ["Face", "Image", "Collection", ...(edit ? ["Split off", "Review"] : [])];
  return el("div", {},
    el("h3", {}, "Faces"),
    el("div", { ...wrap("Their faces"), id: "person-faces" }, table(headings, rows)));
}

async function reject(section, person, faceId) {
  await api(`/persons/${person.id}/rejections`, { method: "POST", json: { face_id: faceId } });
  await refresh(section);
  say(`Face ${faceId} marked "not ${person.name}": it is never proposed for or assigned to them again until withdrawn.`, "notice");
}

function renameForm(section, person) {
  const name = el("input", { name: "name", required: true, maxlength: "200", value: person.name });
  const button = el("button", { type: "submit" }, "Rename");
  return el("form", { id: "rename-form", onsubmit: (event) => {
    event.preventDefault();
    busy(button, async () => {
      await api(`/persons/${person.id}`, { method: "PATCH", json: { name: name.value.trim() } });
      await refresh(section);
      say(`Renamed to ${name.value.trim()}.`, "notice");
    });
  } }, el("h3", { class: "form-title" }, "Rename"), field("New name", name), button);
}

function assignForm(section, person) {
  const ids = el("input", { name: "face_ids", required: true, inputmode: "numeric",
    autocomplete: "off" });
  const button = el("button", { type: "submit" }, "Assign faces");
  return el("form", { id: "assign-form", onsubmit: (event) => {
    event.preventDefault();
    busy(button, async () => {
      const chosen = faceIds(ids.value);
      if (!chosen || !chosen.length) throw new Error("Give face ids, such as 12, 13.");
      await api(`/persons/${person.id}/faces`, { method: "POST", json: { face_ids: chosen } });
      await refresh(section);
      say(`${chosen.length} faces assigned to ${person.name}.`, "notice");
    });
  } }, el("h3", { class: "form-title" }, "Assign faces"),
  field("Face ids to assign", ids, "Comma-separated; a face of another person moves here."),
  button, facePicker("assign", ids));
}

function splitForm(section, person) {
  const name = el("input", { name: "name", required: true, maxlength: "200" });
  const button = el("button", { type: "submit" }, "Split off");
  return el("form", { id: "split-form", onsubmit: (event) => {
    event.preventDefault();
    busy(button, async () => {
      const chosen = [...section.querySelectorAll(".split-face:checked")].map((b) => Number(b.value));
      if (!chosen.length) throw new Error("Tick the faces to move (Split off column) first.");
      const made = await api(`/persons/${person.id}/split`, { method: "POST",
        json: { face_ids: chosen, name: name.value.trim() } });
      await refresh(section, made.new_person.id);
      say(`${chosen.length} faces moved from ${person.name} to the new person ${made.new_person.name}.`, "notice");
    });
  } }, el("h3", { class: "form-title" }, "Split"),
  field("Name of the new person", name, "The faces ticked in the table above move to them."),
  button);
}

function mergeForm(section, person) {
  const others = persons.filter((p) => p.id !== person.id);
  if (!others.length) return null;
  const other = el("select", { name: "other" }, others.map((p) =>
    el("option", { value: String(p.id) }, `${p.name} (${p.face_ids.length} faces)`)));
  const button = el("button", { type: "submit" }, "Merge");
  return el("form", { id: "merge-form", onsubmit: (event) => {
    event.preventDefault();
    busy(button, async () => {
      const gone = others.find((p) => p.id === Number(other.value));
      await api(`/persons/${person.id}/merge`, { method: "POST",
        json: { other_person_id: Number(other.value) } });
      await refresh(section);
      say(`${gone.name} merged into ${person.name}.`, "notice");
    });
  } }, el("h3", { class: "form-title" }, "Merge"),
  field("Merge into this person", other, "Their faces move here and they are deleted."),
  button);
}

function rejectionsBlock(section, person, edit) {
  const holder = el("div", { id: "rejections" });
  const withdrawn = el("input", { type: "checkbox", name: "withdrawn" });
  const load = async () => {
    const list = await api(`/persons/${person.id}/rejections${withdrawn.checked ? "?withdrawn=true" : ""}`);
    if (!list.length) {
      holder.replaceChildren(el("p", { class: "hint" }, `No "not this person" on ${person.name}.`));
      return;
    }
    holder.replaceChildren(el("div", wrap("Not this person"), table(
      ["Face", "Said by", "When", "Withdrawn", ...(edit ? ["Withdraw"] : [])],
      list.map((r) => [
        String(r.face_id), r.rejected_by, when(r.rejected_at),
        r.withdrawn_at ? `${when(r.withdrawn_at)} by ${r.withdrawn_by}` : "",
        ...(!edit ? [] : [r.withdrawn_at ? "" : el("button", { type: "button", class: "secondary",
          onclick: (event) => busy(event.currentTarget, async () => {
            await api(`/persons/${person.id}/rejections/${r.face_id}/withdraw`, { method: "POST" });
            await load();
            say(`"Not ${person.name}" withdrawn for face ${r.face_id}.`, "notice");
          }) }, "Withdraw", el("span", { class: "visually-hidden" }, ` (face ${r.face_id})`))]),
      ]))));
  };
  withdrawn.addEventListener("change", () => load().catch((error) => say(error.message)));
  load().catch((error) => say(error.message));
  let form = null;
  if (edit) {
    const face = el("input", { name: "face_id", required: true, inputmode: "numeric",
      pattern: "[0-9]+", autocomplete: "off" });
    const button = el("button", { type: "submit" }, "Not this person");
    form = el("form", { id: "reject-form", onsubmit: (event) => {
      event.preventDefault();
      busy(button, () => reject(section, person, Number(face.value)));
    } }, field("Face id that is not this person", face,
      "Any gallery face: it is taken from them if theirs."), button);
  }
  return el("div", {}, el("h3", {}, "Not this person"), form,
    el("label", { class: "inline" }, withdrawn, "Show withdrawn ones too"), holder);
}

function referencesBlock(person) {
  const holder = el("div", { id: "references", "aria-live": "polite" });
  const button = el("button", { type: "button", class: "secondary" }, "Check reference faces");
  button.addEventListener("click", () => busy(button, async () => {
    const report = await api(`/persons/${person.id}/references`);
    const flag = (c) => [c.outlier ? "outlier" : "", c.low_quality ? "low quality" : ""]
      .filter(Boolean).join(", ") || "fine";
    holder.replaceChildren(
      el("p", { id: "references-summary" }, report.outliers.length || report.low_quality.length
        ? `${report.outliers.length} outliers and ${report.low_quality.length} low-quality faces `
          + `(match threshold ${report.threshold}).`
        : `All ${report.faces.length} faces agree and are of fair quality (match threshold ${report.threshold}).`),
      el("div", { ...wrap("Reference check"), class: "table-wrap wide" }, table(
        ["Face", "Image", "Median similarity", "Matches others", "Size (px)", "Sharpness", "Flag", "Why"],
        report.faces.map((c) => [
          String(c.face_id), imageName(c.image_location),
          c.self_similarity === null ? "only face" : c.self_similarity.toFixed(3),
          `${c.matches_others} of ${c.others}`, String(c.size_px), c.sharpness.toFixed(0),
          flag(c), c.reasons.join("; "),
        ]))));
  }));
  return el("div", {}, el("h3", {}, "Reference check"),
    el("p", { class: "hint" }, "Each face against the person's other faces: those that do not agree "
      + "with the rest, or are small or blurred, are flagged. The check is audited."),
    button, holder);
}

function deleteBlock(section, person) {
  const ask = el("button", { type: "button", class: "danger" }, "Delete person");
  const yes = el("button", { type: "button", class: "danger" }, `Yes, delete ${person.name}`);
  const no = el("button", { type: "button", class: "secondary" }, "Cancel");
  const confirm = el("div", { id: "delete-confirm", role: "group", "aria-labelledby": "delete-question",
    hidden: true },
  el("p", { id: "delete-question" }, `Delete ${person.name} and all ${person.face_ids.length} of `
    + "their faces from the gallery (store and index)? This cannot be undone."), yes, " ", no);
  ask.addEventListener("click", () => { confirm.hidden = false; ask.hidden = true; no.focus(); });
  no.addEventListener("click", () => { confirm.hidden = true; ask.hidden = false; ask.focus(); });
  yes.addEventListener("click", () => busy(yes, async () => {
    const done = await api(`/persons/${person.id}`, { method: "DELETE" });
    await refresh(section, null);
    $("#persons-title", section).focus();
    say(`${person.name} deleted, with ${done.faces_removed} faces.`, "notice");
  }));
  return el("div", {}, el("h3", {}, "Delete"), ask, confirm);
}

function createForm(section) {
  const name = el("input", { name: "name", required: true, maxlength: "200", autocomplete: "off" });
  const ids = el("input", { name: "face_ids", inputmode: "numeric", autocomplete: "off" });
  const button = el("button", { type: "submit" }, "Create person");
  return el("form", { id: "create-person-form", "aria-labelledby": "create-person-title",
    onsubmit: (event) => {
      event.preventDefault();
      busy(button, async () => {
        const chosen = ids.value.trim() ? faceIds(ids.value) : [];
        if (chosen === null) throw new Error("Face ids are numbers, such as 12, 13.");
        const made = await api("/persons", { method: "POST", json: { name: name.value.trim() } });
        if (chosen.length) {
          await api(`/persons/${made.id}/faces`, { method: "POST", json: { face_ids: chosen } });
        }
        event.target.reset();
        await refresh(section, made.id);
        say(`${made.name} created with ${chosen.length} faces.`, "notice");
      });
    } },
  el("h2", { id: "create-person-title", class: "form-title" }, "New person"),
  field("New person's name", name, "An existing name opens that person."),
  field("Their faces (ids, optional)", ids, "Comma-separated face ids."),
  button, facePicker("create", ids));
}

export default {
  id: "persons",
  title: "Persons",
  needs: ["browse"],
  build(section) {
    const filter = el("input", { id: "persons-filter", type: "search", autocomplete: "off" });
    section.append(
      el("h1", { id: "persons-title", tabindex: "-1" }, "Persons"),
      may("search") ? null : el("p", { class: "hint" }, "Faces are named by id and by the image "
        + "they were found in: seeing a face's pixels takes the search permission."),
      may("ingest") ? createForm(section) : null,
      el("h2", {}, "All persons"),
      el("form", { role: "search", "aria-label": "Find a person",
        onsubmit: (event) => event.preventDefault() }, field("Find by name", filter)),
      el("div", { id: "persons-list" }),
      el("div", { id: "person-detail", class: "panel", "aria-labelledby": "person-detail-title",
        role: "region", hidden: true }));
    filter.addEventListener("input", () => renderList(section));
  },
  async shown(section) {
    await refresh(section);
  },
  forget() {
    persons = [];
    openId = null;
  },
};
