// Translate: one virtual address, split 9/9/9/9/12, walked from CR3 to the frame;
// the real translation (pagemap) beside the simulator's.
import { call } from "../rpc.js";
import { el, errorBox, heading, setQuery } from "../format.js";

const LEVELS = [
  ["pml4", "PGD (PML4)", "#2d7fb8", "bits 47–39"], ["pdpt", "PUD (PDPT)", "#27ae60", "bits 38–30"],
  ["pd", "PMD (PD)", "#d9822b", "bits 29–21"], ["pt", "PTE (PT)", "#8e44ad", "bits 20–12"],
];

/** What each of memd's outcomes means, as the seed tells it. */
const OUTCOMES = {
  tlbHit: "the TLB had it: no walk at all",
  translated: "a TLB miss: the walk above found the frame",
  minorFault: "a TLB miss and a page fault: the page was not there yet, the kernel gave it a free frame",
  majorFault: "a page fault that had to read the page (from its file or swap) before the frame was ready",
  cowFault: "a write to a shared copy-on-write page: the kernel copied it to a frame of its own",
  notPresent: "the entry is not present: the next access would fault",
  swapped: "the page is in swap: the next access would read it back",
  segv: "no mapping allows this access: SIGSEGV",
};

export async function render(root, { query }) {
  const pid = query.get("pid") || "";
  const address = query.get("address") || "";
  const machine = query.get("machine") || "";
  root.append(...heading("Translate",
    "How the CPU finds a byte: the virtual address is cut into four 9-bit indices and a 12-bit offset; each index picks an entry in one table of the walk (CR3 → PGD → PUD → PMD → PTE), the last entry names the physical frame."));
  const form = el("form", { class: "controls", id: "translate-form" },
    el("label", {}, "pid", el("input", { name: "pid", value: pid, size: 8, inputmode: "numeric" })),
    el("label", {}, "address", el("input", { name: "address", value: address, size: 20, class: "mono" })),
    el("label", {}, "machine (simulated, optional)", el("input", { name: "machine", value: machine, size: 6 })),
    el("button", { type: "submit" }, "Translate"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const params = new URLSearchParams();
    for (const key of ["pid", "address", "machine"]) if (data.get(key)) params.set(key, data.get(key).trim());
    location.hash = `#/translate?${params}`;
  });
  root.append(form);
  if (!pid || !address) {
    root.append(el("p", { class: "muted" }, "Give a pid and an address (one of its mappings' starts, from the Process view), or a simulated machine and pid."));
    return;
  }
  setQuery("translate", { pid, address, machine });
  const params = { pid: Number(pid), addresses: [address], trace: true };
  if (machine) params.machine = machine;
  let result;
  try {
    result = await call("simulateTranslation", params);
  } catch (error) {
    root.append(errorBox(error));
    return;
  }
  const t = result.translations[0];
  root.append(el("section", { id: "split" }, el("h2", {}, `${t.address}: the split`), split(t)));
  const row = el("div", { class: "row" });
  root.append(row);
  row.append(machine ? simulated(t, `machine ${machine}, pid ${pid}`) : real(t, pid));
  if (!machine) {
    const box = el("section", { id: "simulated" }, el("h2", {}, "The simulator, at the same address"),
      el("p", { class: "muted" }, "A fresh simulated machine maps one page there and touches it twice: the first access walks the tables and faults the page in, the second hits the TLB."));
    const button = el("button", { id: "simulate", onclick: () => simulate(box, address, button) }, "Simulate");
    box.append(button);
    row.append(box);
  }
}

/** The 9/9/9/9/12 split, from memd's indices (shown in binary, decimal and hex). */
function split(t) {
  const i = t.indices;
  const cells = LEVELS.map(([key, name, colour, bits]) =>
    el("div", { style: `background:${colour};flex:9`, "data-level": key, "data-index": i[key] },
      el("small", {}, `${name} · ${bits}`), i[key].toString(2).padStart(9, "0"), el("small", {}, `index ${i[key]}`)));
  cells.push(el("div", { style: "background:#5b6673;flex:12", "data-level": "offset", "data-offset": i.offset },
    el("small", {}, "offset · bits 11–0"), i.offset.toString(2).padStart(12, "0"), el("small", {}, `0x${i.offset.toString(16)}`)));
  return el("div", {}, el("div", { class: "bits" }, cells),
    el("p", { class: "muted" }, `virtual page number ${t.vpn}; page size ${t.pageSize ?? 4096} bytes`));
}

function real(t, pid) {
  const step = (t.walk || []).find((s) => s.level === "pagemap");
  const frame = t.pfn === null ? (t.present ? "hidden (only root sees frames)" : "none") : `${t.pfn} (0x${t.pfn.toString(16)})`;
  return el("section", { id: "real" }, el("h2", {}, `Real: pid ${pid} (its page table, read through /proc/PID/pagemap)`),
    el("div", { class: "walk" },
      el("div", { class: "step" }, el("b", {}, "CR3"), el("span", { class: "muted" }, "the kernel's; not visible")),
      LEVELS.map(([key, name]) => [el("span", { class: "arrow" }, "→"),
        el("div", { class: "step", "data-level": key }, el("b", {}, name), `index ${t.indices[key]}`)]),
      el("span", { class: "arrow" }, "→"),
      el("div", { class: "step", id: "frame" }, el("b", {}, "frame"), el("span", { id: "pfn", "data-pfn": t.pfn ?? "" }, frame))),
    el("table", {}, el("tbody", {},
      el("tr", {}, el("td", {}, "outcome"), el("td", { class: "text", id: "outcome" }, t.outcome)),
      el("tr", {}, el("td", {}, "present"), el("td", { class: "text" }, String(t.present))),
      el("tr", {}, el("td", {}, "swapped"), el("td", { class: "text" }, String(t.swapped ?? false))),
      el("tr", {}, el("td", {}, "physical address"), el("td", { class: "text mono" }, t.physicalAddress ?? "–")),
      el("tr", {}, el("td", {}, "mapping"), el("td", { class: "text mono" }, t.mapping ? `${t.mapping.start}-${t.mapping.end} ${t.mapping.perms} ${t.mapping.path ?? "[" + t.mapping.kind + "]"}` : "none (segv)")),
      el("tr", {}, el("td", {}, "pagemap entry"), el("td", { class: "text mono" }, step ? step.entry : "–",
        " ", step ? step.flags.map((f) => el("span", { class: "flag" }, f)) : [])))),
    el("p", { class: "muted" }, "Linux shows a process only the last level (pagemap); the walk above it happens in the MMU. The TLB is not visible from user space."));
}

function simulated(t, title) {
  const steps = (t.walk || []).filter((s) => s.level !== "pagemap");
  return el("section", { class: "simulated-walk" }, el("h2", {}, `Simulated: ${title}`),
    el("div", { class: "walk" },
      el("div", { class: "step" }, el("b", {}, "CR3"), steps[0] && steps[0].tableFrame !== undefined ? `table in frame ${steps[0].tableFrame}` : ""),
      steps.map((s) => [el("span", { class: "arrow" }, "→"),
        el("div", { class: "step", "data-level": s.level }, el("b", {}, LEVELS.find(([k]) => k === s.level)?.[1] ?? s.level),
          `index ${s.index}`, el("br"), el("span", { class: "mono" }, s.entry), el("br"), s.flags.map((f) => el("span", { class: "flag" }, f)))]),
      el("span", { class: "arrow" }, "→"),
      el("div", { class: "step" }, el("b", {}, "frame"), t.pfn ?? "none")),
    el("p", {}, "outcome: ", el("b", { class: "sim-outcome" }, t.outcome), OUTCOMES[t.outcome] ? ` — ${OUTCOMES[t.outcome]}` : ""));
}

/** A scratch machine: map the page, touch it twice (miss, then hit), then remove the machine. */
async function simulate(box, address, button) {
  button.disabled = true;
  let machine = null;
  try {
    machine = (await call("sim.create", {})).machine;
    const spawned = await call("sim.spawn", { machine, command: "lab" });
    const mapped = await call("sim.mmap", { machine, pid: spawned.pid, length: 4096, prot: "rw-", address: pageOf(address) });
    const at = mapped.address ?? pageOf(address);
    const first = await call("simulateTranslation", { machine, pid: spawned.pid, addresses: [at], access: "write", trace: true });
    const second = await call("simulateTranslation", { machine, pid: spawned.pid, addresses: [at], access: "write", trace: true });
    box.replaceChildren(
      simulated(first.translations[0], `first access (machine ${machine})`),
      simulated(second.translations[0], "second access"));
    if (at !== pageOf(address)) box.prepend(el("p", { class: "muted" }, `The simulator placed the page at ${at}.`));
  } catch (error) {
    box.append(errorBox(error));
  } finally {
    if (machine) call("sim.destroy", { machine }).catch(() => {});
  }
}

function pageOf(address) {
  return "0x" + (BigInt(address) & ~0xfffn).toString(16);
}
