"""Quarantine for files that failed to load: ``<rejected_dir>/<name>`` plus ``<name>.reason``.

A file that cannot be read is moved out of the corpus by the build, so it is parsed once, not
on every later build (a 50 MB page of nested ``<div>``s cost minutes each time), and the
Documents tab can list it with its reason and delete it. A new upload with the same name
replaces the quarantined copy and is tried again. Sidecars stay where they are: a fixed file
uploaded again under the same name picks its metadata up as before.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from assistant.settings import Settings

REASON_SUFFIX = ".reason"


@dataclass(frozen=True)
class RejectedFile:
    """One quarantined file as the Documents tab lists it."""

    name: str
    reason: str  # the build's error line, "<file name>: <why>"
    original: str  # where it was in the corpus
    rejected_at: str
    path: Path


def folder(settings: Settings) -> Path:
    """The quarantine folder: `rejected_dir`, relative to the corpus folder unless absolute."""
    rejected = settings.rejected_dir
    return rejected if rejected.is_absolute() else settings.corpus / rejected


def can_quarantine(settings: Settings, path: Path) -> bool:
    """Only files inside the corpus are moved (a build over an explicit file list is not)."""
    try:
        resolved = Path(path).resolve()
    except OSError:
        return False
    return resolved.is_relative_to(settings.corpus.resolve()) and not resolved.is_relative_to(
        folder(settings).resolve()
    )


def reject(settings: Settings, path: Path, message: str) -> Path | None:
    """Move `path` into quarantine with its reason; None when it is gone or cannot be moved."""
    target_dir = folder(settings)
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / Path(path).name
        reason = target.with_name(target.name + REASON_SUFFIX)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        tmp = reason.with_name(f".{reason.name}.tmp")
        tmp.write_text(f"{message}\noriginal: {path}\nrejected_at: {stamp}\n", encoding="utf-8")
        shutil.move(str(path), str(target))
        os.replace(tmp, reason)
    except FileNotFoundError:
        return None
    except OSError:
        return None  # stays in place; the build reports the error as before
    return target


def list_rejected(settings: Settings) -> list[RejectedFile]:
    """Quarantined files with their reasons, sorted by name."""
    out: list[RejectedFile] = []
    root = folder(settings)
    if not root.is_dir():
        return out
    for reason in sorted(root.glob(f"*{REASON_SUFFIX}")):
        file = reason.with_name(reason.name[: -len(REASON_SUFFIX)])
        if not file.is_file():
            continue
        lines = reason.read_text(encoding="utf-8", errors="replace").splitlines()
        fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        out.append(
            RejectedFile(
                name=file.name,
                reason=lines[0] if lines else f"{file.name}: rejected",
                original=fields.get("original", ""),
                rejected_at=fields.get("rejected_at", ""),
                path=file,
            )
        )
    return out


def remove(settings: Settings, name: str) -> bool:
    """Delete a quarantined file and its reason; False when there is no such file."""
    root = folder(settings).resolve()
    target = (root / Path(name).name).resolve()
    if target.parent != root or target.name.endswith(REASON_SUFFIX):
        return False
    found = target.is_file()
    target.unlink(missing_ok=True)
    target.with_name(target.name + REASON_SUFFIX).unlink(missing_ok=True)
    return found


def forget(settings: Settings, name: str) -> None:
    """A new file of this name replaces the quarantined one (it will be tried again)."""
    with contextlib.suppress(OSError):
        remove(settings, name)
