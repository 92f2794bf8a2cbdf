// Search by person: faces like a known person's own (the mean of their faces), other than
// theirs. Logged like a search by photo, with a purpose and a case reference.

import { $, api, busy, collectionChoices, el, field, handoff, say } from "../core.js";
import { matchCard, recordExport } from "../evidence.js";

let generation = 0;

function build(section) {
  const person = el("input", { id: "person-id", name: "person_id", type: "number", min: "1",
    required: true, inputmode: "numeric" });
  const button = el("button", { type: "submit", id: "by-person-button" }, "Search");
  const form = el("form", { id: "by-person-form", novalidate: true },
    field("Person number", person, "shown with a match as “Person #12”"),
    field("Purpose", el("input", { id: "by-person-purpose", name: "purpose", required: true,
      minlength: "3", autocomplete: "off", placeholder: "why you search (logged)" })),
    field("Case reference", el("input", { id: "by-person-case-ref", name: "case_ref",
      required: true, autocomplete: "off" })),
    field("Results", el("input", { id: "by-person-top-k", name: "top_k", type: "number",
      min: "1", max: "100", value: "10" })),
    el("fieldset", { class: "collections" }, el("legend", {}, "Collections (none ticked: all)")),
    button);
  const record = recordExport("by-person-export");
  const results = el("div", { id: "by-person-results", class: "results",
    "aria-live": "polite" });
  section.append(el("h1", { id: "by-person-title" }, "Search by person"),
    el("p", { class: "hint" }, "Finds faces like those already assigned to a person, " +
      "other than theirs. Logged with your account, its purpose and case reference."),
    form, record.button, results);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(button, async () => {
      const mine = ++generation;
      record.drop();
      results.replaceChildren();
      const id = Number(person.value);
      if (!Number.isInteger(id) || id < 1) return say("Give the person's number (1 or more).");
      const collections = [...form.querySelectorAll("[name=collections]:checked")]
        .map((c) => c.value);
      const body = { purpose: form.purpose.value.trim(), case_ref: form.case_ref.value.trim(),
        top_k: Number(form.top_k.value) || 10, collections };
      let r;
      try {
        r = await api(`/persons/${id}/searches`, { method: "POST", json: body });
      } catch (error) {
        if (mine === generation) say(error.message);
        return;
      }
      if (mine !== generation) return;
      const matches = r.matches.filter((m) => m.is_match).length;
      results.append(
        el("p", { class: "decision" }, `Person #${r.person.id}: ${r.person.name}, searched ` +
          `by the mean of ${r.person.face_ids.length} face(s). MATCH means a similarity of at ` +
          `least ${r.threshold.toFixed(2)}. A MATCH is a lead for a person to check, never ` +
          "an identification on its own."),
        el("h2", {}, `${matches} MATCH of ${r.matches.length} results`),
        r.matches.length ? el("div", { class: "grid" }, r.matches.map(matchCard))
          : el("p", {}, "No other face in the searched collections."));
      record.hold({
        result: { search_id: r.search_id, model: r.model, threshold: r.threshold, decision: null,
          faces: [{ probe_box: null, probe_sha256: r.query_sha256, matches: r.matches,
            probe_description: `The mean of person #${r.person.id} (${r.person.name})'s ` +
              `${r.person.face_ids.length} face(s): #${r.person.face_ids.join(", #")}` }] },
        purpose: body.purpose, caseRef: body.case_ref, collections, topK: body.top_k,
        searchedAt: new Date().toISOString(),
      });
    });
  });
}

async function shown(section) {
  if (handoff.personId !== null) {
    $("#person-id", section).value = String(handoff.personId);
    handoff.personId = null;
    $("#by-person-purpose", section).focus();
  }
  await collectionChoices($(".collections", section));
}

export default {
  id: "by-person", title: "By person", needs: ["search"], build, shown,
  forget() {
    generation++;
    handoff.personId = null;
  },
};
