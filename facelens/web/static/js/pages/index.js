// Every page of the interface, in the navigation's order. A role sees the pages whose
// `needs` holds an action it may do (GET /session's `may`), and lands on the first.
//
// A page is { id, title, needs, build(section), shown?(section), forget?() }:
//   build   fills its <section> once per sign-in (the section is thrown away at sign-out);
//   shown   runs each time it is opened (to load lists afresh);
//   forget  drops anything held outside the section (object URLs, timers) at sign-out.

import accounts from "./accounts.js";
import audit from "./audit.js";
import collections from "./collections.js";
import consent from "./consent.js";
import history from "./history.js";
import byPerson from "./by-person.js";
import persons from "./persons.js";
import requests from "./requests.js";
import retention from "./retention.js";
import search from "./search.js";
import transparency from "./transparency.js";
import upload from "./upload.js";
import verify from "./verify.js";

export const PAGES = [
  search, verify, byPerson, upload, persons, collections, accounts,
  requests, consent, retention, history, audit, transparency,
];
