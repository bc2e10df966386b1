// Customer photos: fetched with the API key (an <img src> cannot send it) and
// shown through blob: URLs, which the page's CSP allows.

import { request, seg } from "./api.js";
import { h } from "./dom.js";
import { initials } from "./format.js";
import { t } from "./i18n.js";

export const PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];
export const PHOTO_MAX = 2 * 1024 * 1024;

const urls = new Set();

/** Frees the blob URLs made so far (call when leaving a view). */
export function releasePhotos() {
  for (const u of urls) URL.revokeObjectURL(u);
  urls.clear();
}

/** A blob: URL for a Blob/File, remembered for releasePhotos. */
export function blobUrl(blob) {
  const u = URL.createObjectURL(blob);
  urls.add(u);
  return u;
}

/** The customer's photo as a blob: URL, or null when there is none. */
export async function photoUrl(id) {
  try {
    const { data } = await request("GET", `/v1/customers/${seg(id)}/photo`);
    return data instanceof Blob && data.size ? blobUrl(data) : null;
  } catch {
    return null;
  }
}

/** An avatar: the photo when the customer has one, else the initials. */
export function avatar(c, size = "large") {
  const box = h("div", { class: `avatar avatar-${size}` }, h("span", { class: "avatar-initials", "aria-hidden": "true" }, initials(c)));
  if (c.hasPhoto && c.id) {
    photoUrl(c.id).then((u) => {
      if (!u) return;
      box.replaceChildren(h("img", { src: u, alt: t("form.photoOf", { name: [c.firstName, c.lastName].filter(Boolean).join(" ") }), class: "photo" }));
    });
  }
  return box;
}
