"""Write tests/file_durations.json from a pytest JUnit XML report: seconds per test file.

    python -m pytest -q -n 2 --dist loadfile --junitxml=/tmp/junit.xml
    python tests/file_durations.py /tmp/junit.xml

The conftest orders test files by these figures, longest first.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path


def file_seconds(junit: Path) -> dict[str, float]:
    """Seconds per test file (`tests/test_x.py`), summed over its test cases."""
    totals: dict[str, float] = defaultdict(float)
    for case in ET.parse(junit).iter("testcase"):
        module = case.get("classname", "").split(".")
        name = next((f"tests/{part}.py" for part in module if part.startswith("test_")), None)
        if name:
            totals[name] += float(case.get("time", 0.0))
    return {k: round(v, 1) for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}


if __name__ == "__main__":
    out = Path(__file__).with_name("file_durations.json")
    out.write_text(json.dumps(file_seconds(Path(sys.argv[1])), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")
