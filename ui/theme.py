"""Look and behaviour of the page: CSS, the small citation-click script, and the theme.

Everything here is inline or served by the local Gradio server: the page must work on a machine
with no internet access, and must not leak questions to third parties through font or script
requests. The default Gradio theme's font is a `LocalFont` (bundled with Gradio); system fonts
are listed as fallbacks.
"""

from __future__ import annotations

from typing import Any

SYSTEM_FONTS = (
    "system-ui",
    "-apple-system",
    "Segoe UI",
    "Roboto",
    "Helvetica Neue",
    "Arial",
    "sans-serif",
)
MONO_FONTS = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace")

CSS = """
.app-header h1 { margin-bottom: 0.1em; }
.app-header p { margin-top: 0; color: var(--body-text-color-subdued); }
#sources-panel { max-height: 78vh; overflow-y: auto !important; padding-right: 4px; }
.src-question { font-size: 0.9em; color: var(--body-text-color-subdued); margin: 2px 0 8px; }
.src-empty, .src-note { font-size: 0.9em; color: var(--body-text-color-subdued); padding: 8px 2px; }
.src-note { font-weight: 600; color: #b45309; }
.dark .src-note, .dark .refusal-title, .dark .report-warn b { color: #fbbf24; }
.dark .report-bad b { color: #f87171; }
.src-card {
  border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px;
  margin: 0 0 10px; background: var(--background-fill-primary); scroll-margin: 12px;
}
.src-card.closest { border-style: dashed; }
.src-card.flash { animation: src-flash 1.8s ease-out; }
@keyframes src-flash {
  0% { box-shadow: 0 0 0 3px #f59e0b; background: #fef3c7; }
  100% { box-shadow: 0 0 0 0 transparent; }
}
.src-head { font-weight: 600; }
.src-n { color: #1d4ed8; margin-right: 4px; }
.dark .src-n { color: #93c5fd; }
.src-place { font-size: 0.85em; color: var(--body-text-color-subdued); margin-top: 2px; }
.src-doc { font-size: 0.75em; color: var(--body-text-color-subdued); margin-top: 6px;
  font-family: var(--font-mono); }
.src-body p { margin: 6px 0 0; font-size: 0.92em; line-height: 1.45; }
.src-body mark, .quote-only mark {
  background: #fde68a; color: inherit; padding: 0; border-radius: 2px;
}
.dark .src-body mark { background: #854d0e; color: #fff; }
.dark .src-card.flash { animation: src-flash-dark 1.8s ease-out; }
@keyframes src-flash-dark {
  0% { box-shadow: 0 0 0 3px #f59e0b; background: #451a03; }
  100% { box-shadow: 0 0 0 0 transparent; }
}
details.src-older { margin: 12px 0 4px; }
details.src-older summary { cursor: pointer; font-size: 0.9em;
  color: var(--body-text-color-subdued); }
a.cite {
  text-decoration: none; font-weight: 600; font-size: 0.85em; padding: 0 2px; margin: 0 1px;
  border-radius: 4px; background: #eff6ff; color: #1d4ed8;
  cursor: pointer; white-space: nowrap;
}
.dark a.cite { background: #1e3a8a; color: #dbeafe; }
a.cite:hover { text-decoration: underline; }
.answer p { margin: 0 0 6px; }
.answer ul, .answer ol { margin: 4px 0 6px 1.2em; }
.answer-meta { font-size: 0.78em; color: var(--body-text-color-subdued); margin-top: 6px; }
.answer-notice { font-size: 0.85em; font-style: italic; }
.answer.refusal { border-left: 4px solid #d97706; padding-left: 10px; }
.refusal-title { color: #b45309; margin-bottom: 4px; }
.closest-title { font-weight: 600; font-size: 1em; margin-top: 8px; }
.refusal a.cite { font-size: 0.95em; padding: 0 3px; }
.closest-text, .refusal-reason { font-size: 0.85em; color: var(--body-text-color-subdued); }
.answer.error { border-left: 4px solid #dc2626; padding-left: 10px; }
.answer.streaming { color: var(--body-text-color-subdued); }
.cursor { animation: blink 1s step-start infinite; }
@keyframes blink { 50% { opacity: 0; } }
.examples-group { font-size: 0.8em; font-weight: 600; color: var(--body-text-color-subdued);
  margin: 0 0 2px; }
.example-btn { text-align: left !important; justify-content: flex-start !important; }
.criteria-group h2 { font-size: var(--text-lg); margin: 10px 0 2px; }
.build-report ul { margin: 2px 0 6px 1.2em; }
.report-bad b { color: #dc2626; }
.report-warn b { color: #b45309; }
.report-summary { margin-top: 6px; font-weight: 600; }
#feedback-row { align-items: center; gap: 8px; }
#feedback-row .examples-group { margin: 0; }
details.why { margin-top: 6px; font-size: 0.82em; }
details.why summary { cursor: pointer; color: var(--body-text-color-subdued); }
.why-body { border-left: 2px solid var(--border-color-primary); padding: 2px 0 2px 8px; }
.why-h { font-weight: 600; margin: 6px 0 2px; }
.why-p { margin: 0 0 4px; }
.why-table { border-collapse: collapse; margin: 2px 0 4px; }
.why-table th, .why-table td { padding: 1px 6px; text-align: left; vertical-align: top; }
.why-table th, .why-num { white-space: nowrap; }
.why-id { font-family: var(--font-mono); color: var(--body-text-color-subdued); }
.why-units li, .why-checks li { margin: 0 0 3px; }
.why-dropped { color: var(--body-text-color-subdued); }

.src-foot { display: flex; justify-content: space-between; align-items: center; gap: 8px;
  margin-top: 6px; }
.src-foot .src-doc { margin-top: 0; }
button.open-src, button.viewer-back {
  font-size: 0.85em; padding: 3px 10px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--border-color-primary);
  background: var(--button-secondary-background-fill);
  color: var(--body-text-color);
}
button.open-src:hover, button.viewer-back:hover {
  background: var(--button-secondary-background-fill-hover);
}
#viewer .viewer { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: 10px 12px; margin-top: 10px; }
.viewer-title { font-size: var(--text-lg); margin: 0 0 2px; }
.viewer-place { font-size: 0.9em; color: var(--body-text-color-subdued); margin: 0 0 6px; }
.viewer-actions { margin: 0 0 8px; }
.viewer-page { margin: 0 0 10px; }
.viewer-page img { width: 100%; height: auto; border: 1px solid var(--border-color-primary); }
.viewer-page figcaption { font-size: 0.85em; color: var(--body-text-color-subdued); }
.viewer-section { font-size: 1em; margin: 8px 0 2px; }
.viewer-passage { font-size: 0.92em; line-height: 1.45; margin: 0 0 6px; }
.viewer-passage.cited { border-left: 4px solid #b45309; padding-left: 8px; }
.viewer-passage mark { background: #fde68a; color: inherit; }
.dark .viewer-passage mark { background: #854d0e; color: #fff; }
.viewer-pageno { font-size: 0.8em; color: var(--body-text-color-subdued); }
.viewer-empty { font-size: 0.9em; color: var(--body-text-color-subdued); padding: 8px 2px; }
.viewer-warnings { font-size: 0.85em; margin-top: 8px; }

/* ---- accessibility (WCAG 2.2 AA): visible focus at every stop, skip link, screen-reader text */
*:focus-visible, .src-card:focus {
  outline: 3px solid #1d4ed8 !important; outline-offset: 2px !important;
}
.dark *:focus-visible, .dark .src-card:focus { outline-color: #93c5fd !important; }
/* Gradio dims chat text to 80% opacity, taking subdued text and links below 4.5:1 */
#chatbot .message-wrap .prose.chatbot.md { opacity: 1; }
.sources-heading { overflow: visible !important; }
.sources-heading h2 { font-size: var(--text-lg); margin: 0; }
a.skip-link {
  position: absolute; left: -10000px; top: 0; z-index: 1000; padding: 8px 14px;
  background: #1d4ed8; color: #fff !important; font-weight: 700; border-radius: 0 0 6px 0;
}
a.skip-link:focus { left: 0; }
.sr-only, #answer-live, #answer-alert {
  position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0, 0, 0, 0); white-space: nowrap; border: 0;
}
"""

# Inline script (no external asset). Clicking (or pressing Enter on) an inline [n] brings its
# source card into view, opens a folded "earlier answer" section if needed, flashes the card and
# moves keyboard focus to it. Capture phase and preventDefault so the chat's own link handling
# (new tab) never kicks in for these anchors. It also wires the keyboard and screen-reader parts
# Gradio has no option for: the skip link, the live regions' roles, and the source viewer's
# "Open source" / "Back to the answer" buttons (the viewer is filled by a Python callback that a
# hidden button triggers, so the document is read on the server, never by the page).
HEAD = """
<script>
(() => {
  if (window.__citeHandler) return;
  window.__citeHandler = true;
  const roles = {
    "answer-live": ["status", "polite"],
    "answer-alert": ["alert", "assertive"],
    "viewer": ["region", null],
  };
  const applyRoles = () => {
    // the chat log would read every streamed word; #answer-live says the answer once instead
    const log = document.querySelector("#chatbot [role=log]");
    if (log && log.getAttribute("aria-live") !== "off") log.setAttribute("aria-live", "off");
    // the footer's gear icon repeats its "Settings" text: decorative, so no alt of its own
    for (const img of document.querySelectorAll('footer img[alt="Settings"]')) img.alt = "";
    for (const [id, [role, live]] of Object.entries(roles)) {
      const el = document.getElementById(id);
      if (!el || el.getAttribute("role") === role) continue;
      el.setAttribute("role", role);
      if (live) el.setAttribute("aria-live", live);
      if (id === "viewer") el.setAttribute("aria-label", "Source viewer");
    }
  };
  // Gradio's toasts are polite status messages; errors and warnings are re-said assertively
  // in a region of our own (created once, never touched by Gradio's rendering)
  const announceToasts = () => {
    const toasts = document.querySelectorAll(
      ".toast-body.error:not([data-announced]), .toast-body.warning:not([data-announced])");
    for (const toast of toasts) {
      const text = toast.querySelector("[data-testid=toast-text]");
      const message = (text ? text.textContent : "").trim();
      if (!message) continue;  // its text is not rendered yet; the next mutation retries
      toast.setAttribute("data-announced", "1");
      const region = alertRegion();
      if (region) region.textContent = message;
    }
  };
  const alertRegion = () => {  // in the page from the start, so later changes are announced
    let region = document.getElementById("page-alert");
    if (!region && document.body) {
      region = document.createElement("div");
      region.id = "page-alert";
      region.className = "sr-only";
      region.setAttribute("role", "alert");
      region.setAttribute("aria-live", "assertive");
      document.body.appendChild(region);
    }
    return region;
  };
  new MutationObserver(() => { alertRegion(); applyRoles(); announceToasts(); })
    .observe(document.documentElement, { childList: true, subtree: true });
  const focusQuestion = () => {
    const chatTab = [...document.querySelectorAll("[role=tab]")]
      .find((t) => t.textContent.trim() === "Chat");
    if (chatTab && chatTab.getAttribute("aria-selected") !== "true") chatTab.click();
    setTimeout(() => {
      const box = document.querySelector("#question textarea");
      if (box) { box.focus(); box.scrollIntoView({ block: "center" }); }
    }, 50);
  };
  const showCard = (card) => {
    const folded = card.closest("details");
    if (folded) folded.open = true;
    card.setAttribute("tabindex", "-1");
    card.scrollIntoView({ behavior: "smooth", block: "center" });
    card.focus({ preventScroll: true });
    card.classList.remove("flash");
    void card.offsetWidth;
    card.classList.add("flash");
  };
  const openSource = (button) => {
    const box = document.querySelector("#viewer-ref textarea, #viewer-ref input");
    const go = document.querySelector("#viewer-open");
    if (!box || !go) return;
    window.__viewerReturn = button;
    box.value = button.getAttribute("data-ref") || "";
    box.dispatchEvent(new Event("input", { bubbles: true }));
    const viewer = document.getElementById("viewer");
    const before = viewer ? viewer.textContent : "";
    go.click();
    let tries = 0;
    const wait = setInterval(() => {  // focus the viewer's heading once the new page is in
      const head = document.querySelector("#viewer .viewer-title");
      tries += 1;
      if ((head && viewer.textContent !== before) || tries > 200) {
        clearInterval(wait);
        if (head) {
          head.setAttribute("tabindex", "-1");
          head.scrollIntoView({ block: "start" });
          head.focus({ preventScroll: true });
        }
      }
    }, 50);
  };
  const back = () => {
    const target = window.__viewerReturn;
    if (target && target.isConnected) {
      target.scrollIntoView({ block: "center" });
      target.focus();
    } else {
      focusQuestion();
    }
  };
  document.addEventListener("click", (event) => {
    const el = event.target && event.target.closest ? event.target : null;
    if (!el) return;
    if (el.closest("a.skip-link")) {
      event.preventDefault();
      focusQuestion();
      return;
    }
    const opener = el.closest("button.open-src");
    if (opener) { event.preventDefault(); openSource(opener); return; }
    if (el.closest("button.viewer-back")) { event.preventDefault(); back(); return; }
    const link = el.closest("a.cite");
    if (!link) return;
    // the chat's HTML sanitizer keeps href and class (not data-*), so the target is the href
    const target = (link.getAttribute("href") || "").replace(/^.*#/, "");
    if (!target || !target.startsWith("src-")) return;
    event.preventDefault();
    event.stopPropagation();
    const card = document.getElementById(target);
    if (card) showCard(card);
  }, true);
})();
</script>
"""


def make_theme() -> Any:
    """The Gradio theme: default look, fonts bundled with Gradio, system fallbacks, nothing remote.

    Weights 400 and 700 only: the bundled SemiBold (600) file lacks some capitals (an "A" fell
    back to another font in headings and buttons), so 600 text now uses the Bold file.
    """
    import gradio as gr

    local = gr.themes.LocalFont
    theme = gr.themes.Default(
        primary_hue="blue",
        font=(local("Source Sans Pro", weights=(400, 700)), *SYSTEM_FONTS),
        font_mono=(local("IBM Plex Mono", weights=(400, 600)), *MONO_FONTS),
    )
    # WCAG 2.2 AA contrast (4.5:1 for body text): the default subdued grey (zinc-400, 1.9:1 on
    # white), placeholders and the blue-500 / red-500 button fills (3.7:1 with white text)
    # fail it; these shades pass in light and dark mode (checked by axe in the browser test).
    return theme.set(**CONTRAST)


CONTRAST: dict[str, str] = {
    "body_text_color_subdued": "*neutral_600",
    "body_text_color_subdued_dark": "*neutral_400",
    "input_placeholder_color": "*neutral_500",
    "input_placeholder_color_dark": "*neutral_400",
    "block_info_text_color": "*neutral_600",
    "block_info_text_color_dark": "*neutral_400",
    "button_primary_background_fill": "*primary_700",
    "button_primary_background_fill_hover": "*primary_800",
    "button_primary_background_fill_dark": "*primary_700",
    "button_primary_background_fill_hover_dark": "*primary_800",
    "button_cancel_background_fill": "#b91c1c",
    "button_cancel_background_fill_hover": "#991b1b",
    "button_cancel_background_fill_dark": "#b91c1c",
    "button_cancel_background_fill_hover_dark": "#991b1b",
}
