// Every page of the interface, in the navigation's order. A role sees the pages whose
// `needs` holds an action it may do (GET /session's `may`), and lands on the first.
//
// A page is { id, title, needs, build(section), shown?(section), forget?() }:
//   build   fills its <section> once per sign-in (the section is thrown away at sign-out);
//   shown   runs each time it is opened (to load lists afresh);
//   forget  drops anything held outside the section (object URLs, timers) at sign-out.

import accounts from "./accounts.js";
import consent from "./consent.js";
import requests from "./requests.js";
import retention from "./retention.js";
import transparency from "./transparency.js";

export const PAGES = [accounts, requests, consent, retention, transparency];
