"""A quiet start: the project's metadata raises no setuptools deprecation warning, and
`assistant serve` prints one line saying where the page is (no Gradio "share=True" hint)."""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path

import pytest
from conftest import REPO_ROOT, start_serve

URL = re.compile(r"https?://\S+")


def test_pyproject_metadata_has_no_deprecation_warnings() -> None:
    """`license` as an SPDX string: the old {text = ...} table warns on every install."""
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dist = apply_configuration(Distribution(), REPO_ROOT / "pyproject.toml")
    assert dist.metadata.license_expression == "MIT"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_serve_prints_one_line_with_the_address(minilm_index, tmp_path: Path) -> None:
    proc, port, log = start_serve(minilm_index, tmp_path)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and "ready at" not in log.read_text("utf-8"):
            assert proc.poll() is None, log.read_text("utf-8")
            time.sleep(0.5)
        time.sleep(2)  # anything printed just after the line counts too
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log.read_text(encoding="utf-8")
    assert "ready at" in text, text
    lines = [line for line in text.splitlines() if URL.search(line)]
    assert lines == [f"Inspection Assistant is ready at http://127.0.0.1:{port}/ (Ctrl+C to stop)"]
    assert "share=True" not in text and "public link" not in text
    assert "Warning" not in text and "Deprecat" not in text, text
