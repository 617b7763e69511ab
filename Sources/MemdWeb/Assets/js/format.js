// Display only: memd's figures turned into text, never recomputed.

/**
 * Bytes as free -h prints them (procps's scale_size): bytes while they fit in
 * 4 characters, else the first binary unit whose text fits in 5 — one decimal
 * ("9.9Gi" at most), else a whole number cut, not rounded ("23Gi").
 */
export function human(bytes) {
  if (bytes === null || bytes === undefined) return "–";
  if (`${bytes}B`.length <= 4) return `${bytes}B`;
  const units = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
  for (let i = 0; i < units.length; i++) {
    const value = bytes / 1024 ** (i + 1);
    const decimal = Math.fround(value).toFixed(1) + units[i];  // free rounds a C float
    if (decimal.length <= 5) return decimal;
    const whole = Math.trunc(value) + units[i];
    if (whole.length <= 5) return whole;
  }
  return `${bytes}B`;
}

export function number(value, digits = 2) {
  if (value === null || value === undefined) return "–";
  return Number(value).toFixed(digits);
}

/** An element: el("td", {class: "x", "data-bytes": 5}, "text", child…). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A cell holding a byte figure: shown like free -h, the exact bytes in data-bytes and the tooltip. */
export function bytesCell(bytes, tag = "td") {
  return el(tag, { "data-bytes": bytes, title: bytes === null || bytes === undefined ? null : `${bytes} bytes` }, human(bytes));
}

/** An error as a sentence in the page. */
export function errorBox(error) {
  return el("p", { class: "error" }, error && error.sentence ? error.sentence : String(error && error.message || error));
}

/** The view's heading: a title and the one line that says what it shows. */
export function heading(title, lede) {
  return [el("h1", {}, title), el("p", { class: "lede" }, lede)];
}

/** The view's state in the address: #/name?key=value… (replaces, so Back leaves the view). */
export function setQuery(name, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(key, value);
  }
  const text = query.toString();
  history.replaceState(null, "", `#/${name}${text ? "?" + text : ""}`);
}
