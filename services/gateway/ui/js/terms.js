// The business's terms and conditions: the settings form that sets their
// text (PUT /v1/terms; each change is a new version), and the full-screen
// page a customer signs on a tablet (#/sign/{customerId}): only the
// customer's name, the terms, a signature pad (touch, pen and mouse; Clear)
// and "I accept", which stores the drawing as a PNG on the customer
// (POST /v1/customers/{id}/files:signTerms). The page has no staff
// navigation (app.js hides the top bar for it). Every string comes from
// i18n.js.

import { get, newRequestKey, request, seg } from "./api.js";
import { banner, field, h, replace, setTitle, toast } from "./dom.js";
import { clearErrors, counter, showErrors } from "./forms.js";
import { fullName, when } from "./format.js";
import { staffName } from "./taskkit.js";
import { t } from "./i18n.js";

export const TERMS_MAX = 20000;

// ---------------------------------------------------------------------- settings

/** The terms' form for the settings screen. */
export async function termsForm() {
  const { data: terms } = await get("/v1/terms");
  const input = h("textarea", { id: "terms-text", rows: 10, class: "terms-input" });
  input.value = terms.text || "";
  const f = field({ label: t("terms.text"), input, wide: true });
  const c = counter(input, TERMS_MAX);
  f.row.append(c.el);
  const version = h("p", { class: "muted small", id: "terms-version" });
  const showVersion = (x) => {
    version.textContent = x.version
      ? t("terms.version", { version: x.version, when: when(x.updatedAt), who: staffName(x.updatedBy) || t("card.someoneCap") })
      : t("terms.none");
  };
  showVersion(terms);
  const summary = h("div", { class: "form-summary" });
  const save = h("button", { type: "submit", class: "btn btn-primary", id: "save-terms" }, t("terms.save"));
  const form = h("form", { class: "card settings-form", id: "terms-form", novalidate: true, "aria-labelledby": "terms-title" },
    h("h2", { id: "terms-title" }, t("terms.title")),
    h("p", { class: "muted" }, t("terms.lead")), version, summary, f.row,
    h("div", { class: "form-actions-inline" }, save));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors({ "terms.text": f }, summary);
    save.disabled = true;
    try {
      const { data } = await request("PUT", "/v1/terms", { body: { text: input.value }, headers: { "Idempotency-Key": newRequestKey() } });
      showVersion(data);
      toast(t("terms.saved", { version: data.version }));
    } catch (e) {
      showErrors(e, { "terms.text": f }, summary);
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

// ---------------------------------------------------------------------- the tablet page

// The pad's drawing size in CSS pixels is the canvas's; its bitmap is that
// times the device's pixel ratio, kept within what the server accepts.
const SIDE_MAX = 4096;

/** A signature pad: {el, canvas, clear(), drawn()}. */
function signaturePad() {
  const canvas = h("canvas", { class: "signature-pad", id: "signature-pad", role: "img", "aria-label": t("tab.padLabel") });
  const clearBtn = h("button", { type: "button", class: "btn", id: "signature-clear" }, t("tab.clear"));
  const el = h("div", { class: "signature-box" },
    h("p", { class: "signature-label", id: "signature-label" }, t("tab.padLabel")), canvas,
    h("p", { class: "hint" }, t("tab.padHint")), clearBtn);
  let strokes = 0;
  let last = null;
  let ratio = 1;

  const size = () => {
    ratio = Math.max(1, window.devicePixelRatio || 1);
    const w = Math.min(SIDE_MAX, Math.max(16, Math.round(canvas.clientWidth * ratio)));
    const hgt = Math.min(SIDE_MAX, Math.max(16, Math.round(canvas.clientHeight * ratio)));
    if (canvas.width === w && canvas.height === hgt) return;
    // A resized canvas is blank: what was drawn is drawn again, scaled (a tablet turned).
    const before = strokes && canvas.width ? h("canvas", { width: canvas.width, height: canvas.height }) : null;
    if (before) before.getContext("2d").drawImage(canvas, 0, 0);
    canvas.width = w;
    canvas.height = hgt;
    if (before) canvas.getContext("2d").drawImage(before, 0, 0, w, hgt);
  };
  const point = (ev) => {
    const r = canvas.getBoundingClientRect();
    return [(ev.clientX - r.left) * (canvas.width / r.width), (ev.clientY - r.top) * (canvas.height / r.height)];
  };
  const line = (from, to, pressure) => {
    const ctx = canvas.getContext("2d");
    ctx.strokeStyle = "#111";
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.lineWidth = 2.5 * ratio * (pressure > 0 ? 0.6 + pressure : 1);
    ctx.beginPath();
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(to[0], to[1]);
    ctx.stroke();
  };
  canvas.addEventListener("pointerdown", (ev) => {
    ev.preventDefault();
    strokes += 1;
    canvas.dataset.strokes = String(strokes);
    try {
      // The stroke goes on when the pointer leaves the pad.
      canvas.setPointerCapture(ev.pointerId);
    } catch {
      // A pointer the browser does not track: the stroke ends at the edge.
    }
    last = point(ev);
    // A tap is a dot.
    line(last, [last[0] + 0.1, last[1] + 0.1], ev.pressure);
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (!last) return;
    ev.preventDefault();
    const p = point(ev);
    line(last, p, ev.pressure);
    last = p;
  });
  const end = () => {
    last = null;
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  const clear = () => {
    canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
    strokes = 0;
    canvas.dataset.strokes = "0";
  };
  clearBtn.addEventListener("click", clear);
  return { el, canvas, clear, size, drawn: () => strokes > 0 };
}

/** The canvas as PNG bytes, base64 (for the JSON body). */
function pngBase64(canvas) {
  return canvas.toDataURL("image/png").replace(/^data:image\/png;base64,/, "");
}

/** The page a customer signs: #/sign/{customerId}. */
export async function renderSignTerms(view, ctx) {
  const id = ctx.parts[1];
  setTitle(t("tab.title"));
  replace(view, h("p", { class: "muted" }, t("common.loading")));
  const [{ data: c }, { data: terms }] = await Promise.all([get(`/v1/customers/${seg(id)}`), get("/v1/terms")]);
  if (!ctx.live()) return;
  // Only the name: the customer holds the tablet.
  const name = fullName(c);
  view.classList.add("sign-page");
  if (!terms.version) {
    replace(view, h("h1", {}, t("tab.title")), banner("error", t("tab.noTerms")),
      h("p", {}, h("a", { class: "btn", href: `#/customers/${encodeURIComponent(id)}` }, t("tab.back"))));
    return;
  }
  const pad = signaturePad();
  const message = h("div", { class: "sign-message", "aria-live": "assertive" });
  const accept = h("button", { type: "button", class: "btn btn-primary btn-large", id: "terms-accept" }, t("tab.accept"));
  replace(view,
    h("h1", { id: "sign-title" }, t("tab.title")),
    h("p", { class: "sign-for", id: "sign-for" }, t("tab.for", { name })),
    h("p", { class: "muted small", id: "sign-version" }, t("tab.version", { version: terms.version })),
    h("div", { class: "terms-text", id: "terms-shown", tabindex: "0", role: "document", "aria-labelledby": "sign-title" }, terms.text),
    pad.el, message,
    h("div", { class: "sign-actions" }, accept));
  pad.size();
  // Signing answers the "please sign" message.
  pad.canvas.addEventListener("pointerdown", () => replace(message));
  const onResize = () => pad.size();
  window.addEventListener("resize", onResize);
  ctx.onLeave(() => window.removeEventListener("resize", onResize));

  accept.addEventListener("click", async () => {
    replace(message);
    if (!pad.drawn()) {
      replace(message, banner("error", t("tab.empty")));
      return;
    }
    accept.disabled = true;
    accept.textContent = t("tab.sending");
    try {
      await request("POST", `/v1/customers/${seg(id)}/files:signTerms`, {
        body: { version: terms.version, signature: pngBase64(pad.canvas) },
        headers: { "Idempotency-Key": newRequestKey() },
      });
      replace(view,
        h("h1", { id: "sign-done", tabindex: "-1" }, t("tab.thanks", { name })),
        h("p", {}, h("a", { class: "btn btn-primary btn-large", id: "sign-back", href: `#/customers/${encodeURIComponent(id)}` }, t("tab.done"))));
      view.querySelector("#sign-done").focus();
    } catch (e) {
      accept.disabled = false;
      accept.textContent = t("tab.accept");
      if (e.status === 412) {
        await renderSignTerms(view, ctx);
        view.prepend(banner("error", t("tab.changed")));
        return;
      }
      const empty = (e.details || []).some((d) => d.field === "signature" && d.reason === "REQUIRED");
      replace(message, banner("error", empty ? t("tab.empty") : t("tab.failed", { message: e.message })));
    }
  });
}
