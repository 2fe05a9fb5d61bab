// schoon web UI: the only script. Reveal-on-demand for blurred items (each reveal is POSTed
// and audited first), zoom of a revealed item, and keyboard shortcuts for classification. Everything else is plain HTML
// forms, so the screens work without it.
"use strict";
(function () {
  const grid = document.getElementById("items");
  if (!grid) return;
  const csrf = grid.dataset.csrf;
  const counter = document.getElementById("exposure-count");

  function blur(li) {
    li.classList.remove("revealed");
    const b = li.querySelector(".reveal");
    if (b) b.setAttribute("aria-pressed", "false");
    unzoom(li);
  }

  // Zoom shows a revealed item large, in place (same vault image, no new request); it ends
  // whenever the item blurs again.
  function unzoom(li) {
    li.classList.remove("casework-zoomed");
    const z = li.querySelector(".casework-zoom");
    if (z) z.setAttribute("aria-pressed", "false");
  }

  function toggleZoom(li) {
    if (!li.classList.contains("revealed")) return;
    const on = !li.classList.contains("casework-zoomed");
    li.classList.toggle("casework-zoomed", on);
    const z = li.querySelector(".casework-zoom");
    if (z) z.setAttribute("aria-pressed", on ? "true" : "false");
  }

  async function reveal(li) {
    // One item at a time.
    grid.querySelectorAll(".item.revealed").forEach(blur);
    const r = await fetch("/ui/items/" + li.dataset.item + "/reveal", {
      method: "POST",
      headers: { "x-csrf-token": csrf },
      credentials: "same-origin",
    });
    if (!r.ok) return;
    const body = await r.json();
    if (counter) counter.textContent = String(body.views);
    li.classList.add("revealed");
    li.querySelector(".reveal").setAttribute("aria-pressed", "true");
  }

  grid.querySelectorAll(".item").forEach(function (li) {
    const b = li.querySelector(".reveal");
    if (b) {
      b.addEventListener("click", function () {
        if (li.classList.contains("revealed")) blur(li);
        else reveal(li);
      });
    }
    const z = li.querySelector(".casework-zoom");
    if (z) z.addEventListener("click", function () { toggleZoom(li); });
    // Re-blur as soon as attention leaves the item.
    li.addEventListener("focusout", function (e) {
      if (!li.contains(e.relatedTarget)) blur(li);
    });
    li.addEventListener("mouseleave", function () { blur(li); });
    const box = li.querySelector("input[type=checkbox]");
    if (box) box.addEventListener("change", function () { li.classList.toggle("selected", box.checked); });
  });

  function focusedItem() {
    const a = document.activeElement;
    return a ? a.closest(".item") : null;
  }

  function act(formId, name, value) {
    const form = document.getElementById(formId);
    if (!form) return;
    let boxes = Array.from(document.querySelectorAll("input[type=checkbox][form=" + formId + "]:checked"));
    if (boxes.length === 0) {
      const li = focusedItem();
      const box = li && li.querySelector("input[type=checkbox][form=" + formId + "]");
      if (!box) return;
      box.checked = true;
    }
    const button = form.querySelector("button[name=" + name + "][value=" + value + "]");
    if (button) form.requestSubmit(button);
  }

  const keys = { "1": "baseline", "2": "national", "3": "not_illegal", "4": "ignore" };
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t && (t.tagName === "INPUT" && t.type !== "checkbox" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
    if (keys[e.key]) { e.preventDefault(); act("classify-form", "classification", keys[e.key]); return; }
    if (e.key === "a") { e.preventDefault(); act("verify-form", "agree", "yes"); return; }
    if (e.key === "d") { e.preventDefault(); act("verify-form", "agree", "no"); return; }
    if (e.key === "z") {
      const li = focusedItem();
      if (li) { e.preventDefault(); toggleZoom(li); }
      return;
    }
    if (e.key === " ") {
      const li = focusedItem();
      const box = li && li.querySelector("input[type=checkbox]");
      if (box && t !== box) {
        e.preventDefault();
        box.checked = !box.checked;
        li.classList.toggle("selected", box.checked);
      }
    }
  });
})();
