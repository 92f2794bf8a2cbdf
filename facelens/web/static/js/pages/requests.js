// Data subject requests (access, erasure) in two steps: the request is opened with photos of
// the requester and its candidates are found; an admin reviews every candidate, ticks those
// that are the requester's, and confirms in an explicit second step. Nothing is disclosed or
// erased before. Pending requests can be reopened by their number.

import { $, api, busy, el, field, say, when } from "../core.js";
import { askFirst, count, tableBox } from "./admin-parts.js";

let section = null;

const KIND_WORDS = { access: "access request", erasure: "erasure and opt-out request" };
const STATUS_WORDS = { pending: "pending", completed: "completed", no_match: "no match" };

/** The image's own name: the last part of its location. */
const imageName = (location) => String(location || "").split(/[\\/]/).pop() || "(no name)";

/** What became of the request, after its status word. */
function statusLine(r) {
  if (r.status === "pending") {
    return "Review every candidate, tick those that are the requester's, then confirm.";
  }
  if (r.status === "no_match") return "No face held matches the requester's photos.";
  const done = `Completed ${when(r.completed_at)} by ${r.confirmed_by}: `
    + `${count(r.faces_confirmed, "face")} confirmed as the requester's`;
  return r.kind === "erasure"
    ? `${done}, ${count(r.faces_erased, "face")} and ${count(r.images_erased, "image")} erased; `
      + "the requester is on the opt-out list."
    : `${done}.`;
}

function ruleLine(rule) {
  if (!rule) return "This request was made before candidates were found by a calibrated rule.";
  return `Candidates are the faces at cosine similarity ${rule.threshold.toFixed(3)} or more to `
    + `the requester's ${count(rule.photos, "photo")}, in a gallery of `
    + `${count(rule.gallery_faces, "face")}; at this threshold the rule expects `
    + `${rule.expected_false_candidates.toPrecision(2)} strangers among them `
    + `(${rule.basis}${rule.fmr_measured ? "" : "; the false match rate there is extrapolated"}).`;
}

const DECISION_WORDS = { confirmed: "the requester's", rejected: "not the requester's",
  pending: "not decided" };

function candidateCard(request, c) {
  const erased = request.kind === "erasure" && c.decision === "confirmed"
    && request.status === "completed";
  const source = c.origin_url || c.page_url;
  const pending = request.status === "pending";
  return el("figure", { class: "match candidate", dataset: { face: String(c.face_id) } },
    erased
      ? el("p", { class: "hint" }, "Erased: no crop.")
      : el("img", { src: c.crop_url, alt: `Candidate face ${c.face_id}`, loading: "lazy" }),
    el("figcaption", {},
      pending
        ? el("label", { class: "inline" },
          el("input", { type: "checkbox", name: "face", value: String(c.face_id) }),
          `Face ${c.face_id} is the requester's`)
        : el("p", { class: "badge" }, `Face ${c.face_id}: ${DECISION_WORDS[c.decision]}`),
      el("dl", { class: "provenance" },
        el("dt", {}, "Similarity"), el("dd", {}, c.similarity.toFixed(3)),
        el("dt", {}, "Collection"), el("dd", {}, c.collection),
        el("dt", {}, "Image"), el("dd", {}, imageName(c.image_location)),
        el("dt", {}, "Source"), el("dd", {}, source || "not recorded"),
        el("dt", {}, "Ingested"), el("dd", {}, when(c.ingested_at)),
        c.person_name ? [el("dt", {}, "Person"), el("dd", {}, c.person_name)] : null,
        el("dt", {}, "Held under"),
        el("dd", {}, c.legal_basis
          ? `${c.legal_basis}: ${c.purpose}; kept ${c.retention_days} days` : "no basis recorded"))));
}

function summary(request, chosen, others) {
  const rest = others
    ? ` ${count(others, "other candidate")} will be marked as not the requester's`
      + (request.kind === "erasure" ? " and kept." : " and left out.")
    : "";
  if (request.kind === "erasure") {
    return `Erase ${chosen ? count(chosen, "face") : "no face"} from the store, the index and `
      + `every copy, and add the requester to the opt-out list?${rest}`;
  }
  return `Disclose ${chosen ? count(chosen, "face") : "no face"} to the requester in the access `
    + `report?${rest}`;
}

function reviewForm(review) {
  const { request, candidates } = review;
  const confirmHolder = el("div", { id: "request-confirm" });
  const next = el("button", { type: "submit", id: "review-next" },
    request.kind === "erasure" ? "Continue to erasure" : "Continue to the report");
  const form = el("form", { id: "review-form" },
    el("fieldset", {},
      el("legend", {}, candidates.length
        ? `Which of these ${count(candidates.length, "candidate")} are the requester's?`
        : "No candidate was found"),
      el("div", { class: "grid" }, candidates.map((c) => candidateCard(request, c))),
      el("p", { class: "hint" }, "Tick only the faces you are sure are the requester's. "
        + "Nothing is " + (request.kind === "erasure" ? "erased" : "disclosed")
        + " until you confirm in the next step.")),
    next);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = [...form.querySelectorAll("input[name=face]:checked")]
      .map((box) => Number(box.value));
    askFirst(confirmHolder, {
      id: "request-confirm-step",
      summary: summary(request, chosen.length, candidates.length - chosen.length),
      confirmLabel: request.kind === "erasure" ? "Confirm erasure" : "Confirm for the report",
      returnTo: next,
      onConfirm: (button) => busy(button, () => decide(request, chosen)),
    });
  });
  form.addEventListener("change", () => confirmHolder.replaceChildren()); // a new choice: ask anew
  return [form, confirmHolder];
}

async function decide(request, chosen) {
  let done;
  try {
    done = await api(`/subject-requests/${request.id}/confirm`,
      { method: "POST", json: { face_ids: chosen } });
  } catch (error) {
    // New candidates arrived since the review: show them, with the reason.
    if (error.status === 409) await openRequest(request.id);
    throw error;
  }
  await openRequest(done.id);
  await loadList();
  say(done.kind === "erasure"
    ? `Request ${done.id} completed: ${count(done.faces_erased, "face")} and `
      + `${count(done.images_erased, "image")} erased; the requester is on the opt-out list.`
    : `Request ${done.id} completed: ${count(done.faces_confirmed, "face")} confirmed for the `
      + "access report.", "notice");
}

async function accessReport(request) {
  const report = await api(`/subject-requests/${request.id}/report`);
  return el("div", { id: "access-report" },
    el("h3", {}, "Access report"),
    el("p", {}, report.faces.length
      ? `${count(report.faces.length, "face")} held that are the requester's:`
      : "No face held is the requester's."),
    report.faces.length ? tableBox("Faces in the access report",
      ["Face", "Collection", "Legal basis", "Purpose", "Kept (days)", "Source", "Ingested"],
      report.faces.map((f) => [String(f.face_id), f.collection, f.legal_basis || "not recorded",
        f.purpose || "", f.retention_days === null ? "" : String(f.retention_days),
        f.origin_url || f.page_url || "not recorded", when(f.ingested_at)])) : null,
    el("p", {}, el("a", {
      href: `/subject-requests/${request.id}/report?export=true`, id: "report-export",
      download: `subject-access-${request.id}.zip`,
    }, "Download the report to send the requester"),
    el("span", { class: "hint" }, " (a zip: report.json and a crop of each face; no whole "
      + "image, which may show others).")));
}

async function showReview(review) {
  const { request } = review;
  const holder = $("#request-review", section);
  const heading = el("h2", { id: "review-title", tabindex: "-1" },
    `Request ${request.id}: ${KIND_WORDS[request.kind]} ${request.request_ref}`);
  const parts = [
    heading,
    el("p", { id: "request-status" }, "Status: ", el("strong", {}, STATUS_WORDS[request.status]),
      `. ${statusLine(request)}`),
    el("p", { class: "hint", id: "request-rule" }, ruleLine(review.rule),
      ` Opened ${when(request.created_at)} by ${request.created_by}.`),
  ];
  if (request.status === "pending") parts.push(...reviewForm(review));
  else if (review.candidates.length) {
    parts.push(el("div", { class: "grid" },
      review.candidates.map((c) => candidateCard(request, c))));
  } else if (request.kind === "erasure" && request.faces_erased) {
    parts.push(el("p", { class: "hint", id: "request-erased" },
      "The faces erased are no longer held: none is shown."));
  }
  if (request.kind === "access" && request.status !== "pending") {
    parts.push(await accessReport(request));
  }
  holder.replaceChildren(...parts);
  heading.focus();
}

async function openRequest(id, { afresh = false } = {}) {
  // Opened from the list or by number: what was shown goes first, so that no tick made on
  // another request (or an earlier look at this one) can be taken for a decision on this.
  if (afresh) {
    $("#request-review", section).replaceChildren(
      el("p", { class: "hint" }, `Opening request ${id}…`));
  }
  await showReview(await api(`/subject-requests/${id}`));
}

async function loadList() {
  const requests = await api("/subject-requests");
  requests.sort((a, b) => b.id - a.id);
  $("#request-list", section).replaceChildren(requests.length
    ? tableBox("Subject requests",
      ["Number", "Kind", "Reference", "Status", "Opened", "Candidates", "Confirmed", "Erased",
        "Review"],
      requests.map((r) => {
        const open = el("button", { type: "button", class: "secondary",
          "aria-label": `Open request ${r.id}` }, "Open");
        open.addEventListener("click", () => busy(open, () => { say(""); return openRequest(r.id, { afresh: true }); }));
        return [String(r.id), r.kind, r.request_ref, STATUS_WORDS[r.status], when(r.created_at),
          String(r.faces_found), String(r.faces_confirmed),
          r.kind === "erasure" ? String(r.faces_erased) : "", open];
      }), "requests-table")
    : el("p", { class: "hint" }, "No subject request yet."));
}

async function openNew(form) {
  const data = new FormData(form);
  const body = new FormData();
  body.append("request_ref", String(data.get("request_ref")).trim());
  for (const photo of data.getAll("photos")) body.append("photos", photo);
  const review = await api(`/subject-requests/${data.get("kind")}`, { method: "POST", body });
  form.reset();
  await showReview(review);
  await loadList();
}

export default {
  id: "requests",
  title: "Subject requests",
  needs: ["handle_subject_requests"],
  build(root) {
    section = root;
    const form = el("form", { id: "request-form" },
      field("Kind", el("select", { name: "kind", id: "request-kind" },
        el("option", { value: "access" }, "Access: what is held about them"),
        el("option", { value: "erasure" }, "Erasure: erase and opt them out"))),
      field("Request reference", el("input", { name: "request_ref", id: "request-ref",
        required: true, maxlength: "200", autocomplete: "off" })),
      field("Photos of the requester", el("input", { name: "photos", id: "request-photos",
        type: "file", accept: "image/*", multiple: true, required: true }),
      "Their face should be clear; several photos find more."),
      el("button", { type: "submit" }, "Find candidates"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(form.querySelector("button"), () => openNew(form));
    });
    const reopen = el("form", { id: "reopen-form" },
      field("Request number", el("input", { name: "id", id: "request-number", type: "number",
        min: "1", step: "1", required: true, inputmode: "numeric" })),
      el("button", { type: "submit", class: "secondary" }, "Reopen"));
    reopen.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(reopen.querySelector("button"), () => openRequest(Number($("#request-number", reopen).value), { afresh: true }));
    });
    root.append(
      el("h1", { id: "requests-title" }, "Subject requests"),
      el("p", { class: "hint" }, "A request by photo, in two steps: candidates are found, then "
        + "you confirm which are the requester's. Nothing is disclosed or erased before."),
      el("h2", {}, "Open a request"), form,
      el("div", { id: "request-review" }),
      el("h2", {}, "Reopen a request"), reopen,
      el("div", { id: "request-list" }));
  },
  async shown() {
    await loadList();
  },
  forget() {
    section = null;
  },
};
