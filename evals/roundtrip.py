"""Round-trip fidelity: how faithfully a loader's blocks reproduce a suite source's structure.

The yardstick the per-format loader tests share (issue 12): render a source, load it back,
compare with the source's own blocks (`evals.render.parse_source`):

- `text_recall`: share of the source's paragraphs, list items, quotes and table cells found as
  a whole unit of the loaded document (exact after whitespace and quote normalisation; a
  loaded list item matches with or without its printed label, so "(1) A body must..." read
  as an item labelled "(1)" still counts);
- `heading_f1`: loaded heading texts against the source's headings (exact, normalised);
- `furniture`: loaded units holding page furniture - "Page N of M", the running header, the
  DOCX footer - which must be zero;
- `order_tau`: Kendall's tau between the source order and the loaded order of matched units.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from assistant.blocks import Block
from evals.render import Source, block_texts, docx_footer

_PAGE = re.compile(r"\bpage \d+ of \d+\b", re.IGNORECASE)
# The round-trip targets of issue 12, per document and format.
TARGETS = {"text_recall": 0.99, "heading_f1": 0.95, "order_tau": 0.98}


def norm(text: str) -> str:
    """The comparison form: quotes and dashes unified, whitespace single, case kept."""
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return " ".join(text.replace("–", "-").replace("—", "-").split())


@dataclass
class Fidelity:
    """The round-trip scores of one document, with what was missed for the failure message."""

    doc_id: str
    text_recall: float
    heading_f1: float
    furniture: list[str]
    order_tau: float
    missed: list[str] = field(default_factory=list)
    missed_headings: list[str] = field(default_factory=list)
    extra_headings: list[str] = field(default_factory=list)

    def shortfalls(self) -> list[str]:
        """What misses the issue-12 targets (`TARGETS`, zero furniture), with the evidence."""
        out = [
            f"{name} {getattr(self, name):.3f} < {bound}"
            for name, bound in TARGETS.items()
            if getattr(self, name) < bound
        ]
        if self.text_recall < TARGETS["text_recall"]:
            out.append(f"missed: {self.missed[:5]}")
        if self.heading_f1 < TARGETS["heading_f1"]:
            out.append(f"headings missed {self.missed_headings}, extra {self.extra_headings}")
        if self.furniture:
            out.append(f"furniture: {self.furniture[:5]}")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "text_recall": round(self.text_recall, 4),
            "heading_f1": round(self.heading_f1, 4),
            "furniture": len(self.furniture),
            "order_tau": round(self.order_tau, 4),
        }


def loaded_units(blocks: list[Block]) -> list[tuple[str, list[str]]]:
    """(kind, accepted texts) per loaded unit in reading order."""
    out: list[tuple[str, list[str]]] = []
    for b in blocks:
        if b.kind == "list":
            for it in b.items:
                texts = [norm(it.text)]
                if it.label:
                    texts.append(norm(f"{it.label} {it.text}"))
                out.append(("item", texts))
        elif b.kind == "table":
            out.extend(("cell", [norm(c)]) for row in b.rows for c in row if c.strip())
        else:
            out.append((b.kind, [norm(b.text)]))
    return out


def kendall_tau(order: list[int]) -> float:
    """Kendall's tau of a sequence against its sorted order (1.0 = same order)."""
    n = len(order)
    if n < 2:
        return 1.0
    concordant = discordant = 0
    for i in range(n):
        for j in range(i + 1, n):
            if order[i] < order[j]:
                concordant += 1
            elif order[i] > order[j]:
                discordant += 1
    pairs = concordant + discordant
    return (concordant - discordant) / pairs if pairs else 1.0


def fidelity(source: Source, blocks: list[Block], furniture_texts: list[str] = ()) -> Fidelity:
    """Compare loaded `blocks` with `source`; `furniture_texts` add format-specific furniture."""
    truth = block_texts(source.blocks)
    units = loaded_units(blocks)
    index: dict[str, list[int]] = {}
    for pos, (_kind, texts) in enumerate(units):
        for t in texts:
            index.setdefault(t, []).append(pos)
    body = [u for u in truth if u.kind != "heading"]
    used: set[int] = set()
    positions: list[int] = []
    missed: list[str] = []
    for u in body:
        spots = [p for p in index.get(norm(u.text), []) if p not in used]
        if spots:
            used.add(spots[0])
            positions.append(spots[0])
        else:
            missed.append(u.text)
    want = {norm(u.text) for u in truth if u.kind == "heading"}
    got = {t for kind, texts in units if kind == "heading" for t in texts[:1]}
    tp = len(want & got)
    f1 = 2 * tp / (len(want) + len(got)) if want or got else 1.0
    marks = [norm(docx_footer(source.front)), *map(norm, furniture_texts)]
    if norm(source.front.header) != norm(source.title):  # a header equal to the title is not
        marks.append(norm(source.front.header))  # told apart from the title itself
    furniture = [
        texts[0]
        for _kind, texts in units
        if _PAGE.search(texts[0]) or any(m and m in texts[0] for m in marks)
    ]
    return Fidelity(
        doc_id=source.doc_id,
        text_recall=(len(body) - len(missed)) / len(body) if body else 1.0,
        heading_f1=f1,
        furniture=furniture,
        order_tau=kendall_tau(positions),
        missed=missed,
        missed_headings=sorted(want - got),
        extra_headings=sorted(got - want),
    )


def main(argv: list[str] | None = None) -> int:
    """Print the round-trip figures of one rendered format, per document and mean; the
    measurement behind the loaders' constants (e.g. `assistant.txt_riffle.MARGIN`)."""
    import argparse
    from pathlib import Path

    from assistant.loaders import load_blocks
    from evals.render import DEFAULT_SRC, discover_sources, parse_source

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("rendered", type=Path, help="a folder of one format from `evals.render`")
    ap.add_argument("--src", type=Path, default=DEFAULT_SRC, help="the suite sources")
    args = ap.parse_args(argv)
    total = {"text_recall": 0.0, "heading_f1": 0.0, "order_tau": 0.0}
    sources = discover_sources(args.src)
    for src in sources:
        source = parse_source(src)
        path = next(p for p in args.rendered.glob(f"{source.doc_id}.*") if p.suffix != ".yaml")
        fid = fidelity(source, load_blocks(path).blocks)
        for key in total:
            total[key] += getattr(fid, key)
        print(
            f"{source.doc_id:42s} text_recall {fid.text_recall:.3f}  heading_f1 "
            f"{fid.heading_f1:.3f}  order_tau {fid.order_tau:.3f}  furniture {len(fid.furniture)}"
        )
    n = max(1, len(sources))
    print("mean " + "  ".join(f"{k} {v / n:.3f}" for k, v in total.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
