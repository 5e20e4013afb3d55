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
.src-n { color: var(--color-accent); margin-right: 4px; }
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
  border-radius: 4px; background: var(--color-accent-soft); color: var(--color-accent);
  cursor: pointer; white-space: nowrap;
}
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
"""

# Inline script (no external asset): clicking an inline [n] brings its source card into view,
# opens a folded "earlier answer" section if needed, and flashes the card. Capture phase and
# preventDefault so the chat's own link handling (new tab) never kicks in for these anchors.
HEAD = """
<script>
(() => {
  if (window.__citeHandler) return;
  window.__citeHandler = true;
  document.addEventListener("click", (event) => {
    const link = event.target && event.target.closest ? event.target.closest("a.cite") : null;
    if (!link) return;
    // the chat's HTML sanitizer keeps href and class (not data-*), so the target is the href
    const target = (link.getAttribute("href") || "").replace(/^.*#/, "");
    if (!target || !target.startsWith("src-")) return;
    event.preventDefault();
    event.stopPropagation();
    const card = document.getElementById(target);
    if (!card) return;
    const folded = card.closest("details");
    if (folded) folded.open = true;
    card.scrollIntoView({ behavior: "smooth", block: "center" });
    card.classList.remove("flash");
    void card.offsetWidth;
    card.classList.add("flash");
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
    return gr.themes.Default(
        primary_hue="blue",
        font=(local("Source Sans Pro", weights=(400, 700)), *SYSTEM_FONTS),
        font_mono=(local("IBM Plex Mono", weights=(400, 600)), *MONO_FONTS),
    )
