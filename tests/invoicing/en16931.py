"""The official EN 16931 validation rules (CEN/TC 434 XSLT) run with Saxon-HE (`saxonche`).

The artefacts live beside the repository in `../shared/data/en16931/` (see its README;
`_artefacts` says where else they are looked for); a missing copy fails the tests that need
it, it never skips them. Compiling a stylesheet takes
seconds, so each is compiled once per process (`Validator.load`).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree

__all__ = ["ARTEFACTS", "Failure", "Validator", "validator"]

_REPO = Path(__file__).resolve().parents[2]


def _local_origin() -> Path | None:
    """The checkout this one was cloned from, when that is a folder on this machine."""
    try:
        url = subprocess.run(["git", "-C", str(_REPO), "config", "--get", "remote.origin.url"],
                             capture_output=True, text=True, timeout=10, check=False).stdout
    except OSError:
        return None
    origin = Path(url.strip().removeprefix("file://")) if url.strip() else None
    return origin if origin is not None and origin.is_absolute() and origin.is_dir() else None


def _artefacts() -> Path:
    """`EVBILL_EN16931_DIR` when set; else `../shared/data/en16931` beside the repository, beside
    the main checkout of a git worktree (its `.git` is a file naming the main checkout's git
    directory), or beside the local checkout a clone was made from."""
    configured = os.environ.get("EVBILL_EN16931_DIR")
    if configured:
        return Path(configured)
    candidates = [_REPO.parent / "shared" / "data" / "en16931"]
    git = _REPO / ".git"
    if git.is_file():
        gitdir = Path(git.read_text().partition("gitdir:")[2].strip())
        if gitdir.parent.name == "worktrees":
            candidates.append(gitdir.parents[2].parent / "shared" / "data" / "en16931")
    origin = _local_origin()
    if origin is not None:
        candidates.append(origin.parent / "shared" / "data" / "en16931")
    return next((c for c in candidates if c.is_dir()), candidates[0])


ARTEFACTS = _artefacts()
_SVRL = "http://purl.oclc.org/dsdl/svrl"


@dataclass(frozen=True, slots=True)
class Failure:
    rule: str
    flag: str
    text: str


class Validator:
    """Both stylesheets, compiled; `check(xml)` picks CII or UBL by the root element."""

    def __init__(self, directory: Path) -> None:
        from saxonche import PySaxonProcessor

        self._proc: Any = PySaxonProcessor(license=False)
        compiler = self._proc.new_xslt30_processor()
        self._cii = compiler.compile_stylesheet(
            stylesheet_file=str(directory / "EN16931-CII-validation.xslt"))
        self._ubl = compiler.compile_stylesheet(
            stylesheet_file=str(directory / "EN16931-UBL-validation.xslt"))

    def check(self, xml: bytes) -> list[Failure]:
        """Every failed assertion (fatal and warning) the official rules report."""
        root = etree.fromstring(xml)
        cii = root.tag.endswith("}CrossIndustryInvoice")
        node = self._proc.parse_xml(xml_text=xml.decode("utf-8"))
        svrl = (self._cii if cii else self._ubl).transform_to_string(xdm_node=node)
        report = etree.fromstring(svrl.encode("utf-8"))
        return [Failure(f.get("id") or "?", f.get("flag") or "?",
                        " ".join("".join(f.itertext()).split()))
                for f in report.iter(f"{{{_SVRL}}}failed-assert")]

    def fatal(self, xml: bytes) -> list[Failure]:
        return [f for f in self.check(xml) if f.flag == "fatal"]


@lru_cache(maxsize=1)
def validator() -> Validator:
    """The compiled validator (once per process); fails loudly when the artefacts are missing."""
    for name in ("EN16931-CII-validation.xslt", "EN16931-UBL-validation.xslt"):
        if not (ARTEFACTS / name).is_file():
            raise FileNotFoundError(
                f"EN 16931 artefact {name} not found in {ARTEFACTS} (expected beside the "
                "repository in ../shared/data/en16931/)")
    return Validator(ARTEFACTS)
