// A match as evidence: its face, score and what the rule means, where the image came from,
// a stable identifier; the larger view marks the face; a search exported as a case record.

import { $, busy, download, el, handoff, may, session, when } from "./core.js";

export const fileName = (location) => String(location || "").split(/[\\/]/).pop();

const LEAD = "A MATCH is a lead for a person to check, never an identification on its own.";

/** A false match rate per comparison, as a reviewer reads it. */
export const fmrInWords = (fmr) => `Two photos of different people reach it about once in ` +
  `${Number((1 / fmr).toPrecision(2)).toLocaleString()} comparisons (false match rate ` +
  `${(fmr * 100).toFixed(3)}%, measured on LFW).`;

/** What made a candidate a MATCH, in words a reviewer can weigh. */
export function ruleInWords(threshold, d) {
  if (!d || d.rule !== "calibrated") {
    let text = `MATCH means a similarity of at least ${threshold.toFixed(2)} (a fixed threshold, ` +
      "not calibrated on this gallery).";
    if (d && d.measured_fmr !== null) text += ` ${fmrInWords(d.measured_fmr)}`;
    if (d && d.estimated_fpir !== null) {
      text += ` On this gallery about ${(d.estimated_fpir * 100).toFixed(1)}% of searches ` +
        "for someone not in it return a stranger at or above it";
      if (d.expected_false_candidates !== null) {
        text += `, ${d.expected_false_candidates.toFixed(2)} strangers per search on average`;
      }
      text += ".";
    }
    return `${text} ${LEAD}`;
  }
  return `MATCH means a normalised score of at least ${d.threshold.toFixed(3)}, calibrated on ` +
    `this gallery (${d.calibrated_gallery_faces.toLocaleString()} faces, now ` +
    `${d.gallery_faces.toLocaleString()}) so that at most ${(d.target_fpir * 100).toFixed(1)}% ` +
    "of searches for someone not in it return a match (its false positive identification " +
    `rate); about ${d.expected_false_candidates.toFixed(2)} strangers per search score above it.` +
    (d.calibration_stale ? " The calibration is stale: the gallery has changed by over a " +
      "tenth since, and the next ingest calibrates again." : "") + ` ${LEAD}`;
}

const PROVENANCE = [
  ["origin_url", "Origin"], ["page_url", "Page"], ["licence_ref", "Licence or warrant"],
  ["captured_at", "Captured"], ["fetched_at", "Fetched"],
];

export function provenanceList(match) {
  const rows = PROVENANCE.flatMap(([key, label]) => {
    const value = match.provenance?.[key];
    if (!value) return [];
    const shown = key.endsWith("_at") ? when(value) : value;
    return [el("dt", {}, label), el("dd", {}, shown)];
  });
  return el("dl", { class: "provenance" },
    el("dt", {}, "Collection"), el("dd", {}, match.collection),
    el("dt", {}, "Image"), el("dd", {}, `${fileName(match.image_location)} (image #${match.image_id})`),
    el("dt", {}, "Face"), el("dd", {}, `#${match.face_id}, ${match.size_px} px`),
    rows.length ? rows : [el("dt", {}, "Provenance"), el("dd", {}, "none recorded")]);
}

export function matchCard(match) {
  const label = match.is_match ? "MATCH" : "below threshold";
  const view = el("button", {
    type: "button", class: "view",
    "aria-label": `Show the source image of face #${match.face_id}, with the face marked`,
    onclick: () => showSource(match),
  }, el("img", { alt: `face #${match.face_id}`, src: match.thumbnail_url }));
  return el("figure", { class: `match ${match.is_match ? "is-match" : "below"}`,
    dataset: { face: match.face_id } },
    view,
    el("figcaption", {},
      el("span", { class: "badge" }, label), " ",
      el("span", { class: "similarity", title: "cosine similarity" },
        `similarity ${match.similarity.toFixed(3)}`),
      match.normalised_score === null ? null : el("span", {
        class: "normalised",
        title: "the similarity less half the mean of both faces' nearest strangers in the gallery",
      }, ` · normalised ${match.normalised_score.toFixed(3)}`),
      match.small_face ? el("span", { class: "small" }, " · small face: weigh with care") : null,
      match.person_id === null ? null : el("p", { class: "person" },
        `Person #${match.person_id}${match.person_name ? `: ${match.person_name}` : ""} `,
        may("search") ? el("a", { href: "#by-person", class: "by-person",
          onclick: () => {
            handoff.personId = match.person_id;
            // Already there: no hashchange comes, so the page is opened again by hand.
            if (location.hash === "#by-person") dispatchEvent(new HashChangeEvent("hashchange"));
          } }, "search by this person")
          : null),
      provenanceList(match)));
}

/** Puts `box` (absolutely placed over `image`) on a face box given in image pixels. */
export function placeBox(box, b, image) {
  const scale = image.clientWidth / image.naturalWidth;
  Object.assign(box.style, {
    left: `${b.x1 * scale}px`, top: `${b.y1 * scale}px`,
    width: `${(b.x2 - b.x1) * scale}px`, height: `${(b.y2 - b.y1) * scale}px`,
  });
  return box;
}

/** The whole source image in the dialog, the matched face marked by its box. */
export function showSource(match) {
  const dialog = $("#large");
  const image = $("#large-image");
  const box = $("#large-box");
  box.hidden = true;
  $("#large-title").textContent = `Face #${match.face_id} in its source image`;
  $("#large-caption").textContent =
    `${match.collection} / ${fileName(match.image_location)} (image #${match.image_id})`;
  image.alt = `source image #${match.image_id}, face #${match.face_id} marked`;
  image.onload = () => {
    placeBox(box, match.box, image);
    box.hidden = false;
  };
  image.src = match.source_url;
  if (!dialog.open) dialog.showModal();
}

// --- the case record --------------------------------------------------------------------

const escape = (text) => String(text ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

async function dataUrl(url) {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) return "";
  const blob = await response.blob();
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.readAsDataURL(blob);
  });
}

/**
 * A search as a self-contained HTML record for a case file: the probe's hashes, who searched,
 * when, purpose and case reference, the rule, settings and model, every candidate shown
 * with its provenance and thumbnail (embedded, so the record reads offline).
 */
export async function caseRecord(search) {
  const { result, purpose, caseRef, collections, topK, probeFileSha256, searchedAt } = search;
  const me = session.me.account;
  const faces = [];
  for (const [index, face] of result.faces.entries()) {
    const rows = [];
    for (const [rank, m] of face.matches.entries()) {
      const thumb = await dataUrl(m.thumbnail_url);
      const provenance = PROVENANCE.map(([key, label]) =>
        m.provenance?.[key] ? `${label}: ${escape(m.provenance[key])}` : "").filter(Boolean);
      rows.push(`<tr><td>${rank + 1}</td>` +
        `<td>${thumb ? `<img src="${thumb}" alt="face #${m.face_id}" width="96">` : ""}</td>` +
        `<td>${m.is_match ? "<strong>MATCH</strong>" : "below threshold"}</td>` +
        `<td>${m.similarity.toFixed(4)}</td>` +
        `<td>${m.normalised_score === null ? "" : m.normalised_score.toFixed(4)}</td>` +
        `<td>face #${m.face_id}<br>image #${m.image_id}<br>${m.size_px} px</td>` +
        `<td>${escape(m.collection)}<br>${escape(fileName(m.image_location))}</td>` +
        `<td>${escape(m.person_name || "")}</td>` +
        `<td>${provenance.join("<br>") || "none recorded"}</td></tr>`);
    }
    const b = face.probe_box;
    faces.push(`<h2>Probe face ${index + 1}</h2>` +
      (b ? `<p>Box (${b.x1}, ${b.y1})–(${b.x2}, ${b.y2}), ${face.probe_size_px} px. `
        : `<p>${escape(face.probe_description)}. `) +
      `Embedding SHA-256 <code>${escape(face.probe_sha256)}</code></p>` +
      `<table><thead><tr><th>Rank</th><th>Face</th><th>Decision</th><th>Similarity</th>` +
      `<th>Normalised</th><th>Identifiers</th><th>Collection / image</th><th>Person</th>` +
      `<th>Provenance</th></tr></thead><tbody>${rows.join("")}</tbody></table>`);
  }
  const d = result.decision;
  const settings = [
    ["Search", `#${result.search_id}`],
    ["Searched by", `${me.name} (account #${me.id}, ${me.role})`],
    ["Searched at", searchedAt],
    ["Purpose", purpose], ["Case reference", caseRef],
    ["Collections", collections.length ? collections.join(", ") : "all"],
    ["Results per face", String(topK)],
    ...(probeFileSha256 === undefined ? [] : [["Probe file SHA-256",
      probeFileSha256 || "not computed (needs a secure context)"]]),
    ["Model", `${result.model.id} (${result.model.dim}-dimensional embeddings)`],
    ["Rule", d ? `${d.rule} on ${d.scores} scores, threshold ${d.threshold}` : `fixed, ${result.threshold}`],
    ["What a MATCH means", ruleInWords(result.threshold, d)],
    ...(result.faces_rejected ? [
      ["Probe turned", `${result.probe_turned_degrees}° clockwise`],
      ["Probe faces not usable", String(result.faces_rejected.length)]] : []),
    ["Record made", new Date().toISOString()],
  ];
  return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">" +
    `<title>facelens case record: search #${result.search_id}, ${escape(caseRef)}</title>` +
    "<style>body{font:14px system-ui,sans-serif;margin:2rem}table{border-collapse:collapse}" +
    "td,th{border:1px solid #ccc;padding:.3rem;vertical-align:top;text-align:left}</style>" +
    `</head><body><h1>Case record: search #${result.search_id}</h1>` +
    `<table>${settings.map(([k, v]) => `<tr><th>${escape(k)}</th><td>${escape(v)}</td></tr>`).join("")}</table>` +
    faces.join("") +
    "<p>The probe photo itself is not part of this record; its hashes identify it.</p>" +
    "</body></html>\n";
}

/**
 * The "Export case record" button of a results page: hidden until a search is held, and
 * holding only the search shown (dropped when the next one starts).
 */
export function recordExport(id) {
  let held = null;
  const button = el("button", { type: "button", id, class: "secondary", hidden: true },
    "Export case record (HTML)");
  button.addEventListener("click", () => busy(button, async () => {
    if (!held) return;
    const html = await caseRecord(held);
    download(`case-record-search-${held.result.search_id}.html`,
      new Blob([html], { type: "text/html" }));
  }));
  return {
    button,
    hold(search) {
      held = search;
      button.hidden = false;
    },
    drop() {
      held = null;
      button.hidden = true;
    },
  };
}
