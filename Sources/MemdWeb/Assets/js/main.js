// The lab: a router over six views, and the banner that says when memd is gone.
import { connect, onConnection, ready } from "./rpc.js";
import { el } from "./format.js";
import * as host from "./views/host.js";
import * as processes from "./views/processes.js";
import * as process from "./views/process.js";
import * as translate from "./views/translate.js";
import * as experiments from "./views/experiments.js";
import * as cgroups from "./views/cgroups.js";

const views = { host, processes, process, translate, experiments, cgroups };
const root = document.getElementById("view");
const banner = document.getElementById("banner");
const status = document.getElementById("status");
let stopView = null;
let generation = 0;

/** #/name/arg?query → {name, arg, query}. */
function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, search = ""] = hash.split("?");
  const [name, arg] = path.split("/");
  return { name: views[name] ? name : "host", arg: arg ? decodeURIComponent(arg) : null, query: new URLSearchParams(search) };
}

async function show() {
  const mine = ++generation;
  if (stopView) { try { stopView(); } catch { /* the old view is gone either way */ } stopView = null; }
  const { name, arg, query } = route();
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.getAttribute("href") === `#/${name}` || (name === "process" && link.getAttribute("href") === "#/processes"));
  }
  root.replaceChildren();
  root.dataset.view = name;
  root.dataset.ready = "false";
  await ready();
  if (mine !== generation) return;
  const page = el("div", { class: `view-${name}` });
  root.replaceChildren(page);
  stopView = await views[name].render(page, { arg, query }) || null;
  if (mine === generation) root.dataset.ready = "true";
}

onConnection((state, detail) => {
  if (state === "open") {
    status.textContent = "connected to memd";
    if (!banner.hidden) { banner.hidden = true; show(); }
  } else {
    status.textContent = "reconnecting…";
    banner.hidden = false;
    banner.textContent = `memd went away (${detail}); reconnecting by itself…`;
  }
});

window.addEventListener("hashchange", show);
connect();
show();
