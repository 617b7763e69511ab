// Cgroups: the memory cgroup tree, current / max / peak as bars, and OOM kills.
import { call } from "../rpc.js";
import { el, bytesCell, errorBox, heading, human } from "../format.js";

export async function render(root) {
  root.append(...heading("Cgroups",
    "The kernel's memory budgets: each cgroup's current use against its max (its limit, if it has one) and its peak; an OOM kill is the kernel ending a process to keep a group under its max."));
  let result;
  try {
    result = await call("cgroups", {});
  } catch (error) {
    root.append(errorBox(error));
    return;
  }
  const scale = Math.max(1, ...result.groups.map((g) => Math.max(g.max ?? 0, g.peak ?? 0, g.current ?? 0)).filter((v) => v < 2 ** 60));
  const rows = result.groups.map((group) => {
    const depth = group.path === "/" ? 0 : group.path.split("/").length - 1;
    const events = group.events || {};
    return el("tr", { "data-path": group.path },
      el("td", { class: "text mono", style: `padding-left:${0.7 + depth}em` }, group.path),
      bytesCell(group.current), bytesCell(group.peak), bytesCell(group.max),
      el("td", { class: "text" }, bar(group, scale)),
      el("td", { "data-oom-kills": events.oomKill ?? "" }, events.oomKill ?? "–"),
      el("td", {}, group.processes ?? "–"));
  });
  root.append(el("section", {},
    el("p", { class: "muted" }, `cgroup v${result.version} at ${result.root}; bars: current (dark) and peak (light) against max (the frame), on one scale`),
    el("table", { id: "cgroups" },
      el("thead", {}, el("tr", {}, ["path", "current", "peak", "max", "", "OOM kills", "processes"].map((h, i) => el("th", { class: i === 0 || i === 4 ? "text" : null }, h)))),
      el("tbody", {}, rows))));
}

function bar(group, scale) {
  const width = (bytes) => `${Math.min(100, (100 * bytes) / scale).toFixed(2)}%`;
  const parts = [];
  if (group.max !== null && group.max !== undefined && group.max < 2 ** 60) {
    parts.push(el("span", { style: `width:${width(group.max)};border:1px solid #2d5b8a;background:none`, title: `max ${human(group.max)}` }));
  }
  if (group.peak !== null && group.peak !== undefined) parts.push(el("span", { style: `width:${width(group.peak)};background:#9cc3e6`, title: `peak ${human(group.peak)}` }));
  if (group.current !== null && group.current !== undefined) parts.push(el("span", { style: `width:${width(group.current)};background:#2d5b8a`, title: `current ${human(group.current)}` }));
  return el("div", { class: "bar" }, parts);
}
