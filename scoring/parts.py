"""The work directory ``OUTPUT.parts/``: atomically published parts plus a manifest.

A job's output is cut into parts of a fixed number of input records. Each part (scored rows +
quarantined rows) is published atomically and then recorded, with its sha256, in
``manifest.json`` (itself replaced atomically). After a crash, the next run with the same job
identity (input sha256, model sha256s, output-affecting options) keeps the verified parts, skips
their input records and carries on; because parts are deterministic, the final file is the same
bytes as an uninterrupted run. The final OUTPUT is assembled from the parts into a temp file and
renamed, so it never holds a partial file.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.atomic import atomic_write, atomic_write_bytes
from core.bundle import sha256_file

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "sentiment-scoring-manifest/1"
Writer = Callable[[BinaryIO], None]


@dataclass
class Totals:
    """Row counts over all published parts."""

    rows: int = 0
    scored: int = 0
    quarantined: int = 0


def describe_difference(old: dict, new: dict) -> str:
    """Human summary of why two job identities differ (input, model or options)."""
    if old.get("input") != new.get("input"):
        return (f"a different input file (sha256 {old['input']['sha256'][:12]}… then, "
                f"{new['input']['sha256'][:12]}… now)")
    if old.get("model") != new.get("model"):
        return (f"a different model ({old['model'].get('version')} then, "
                f"{new['model'].get('version')} now)")
    diffs = [f"{k}: {old['options'].get(k)!r} then, {v!r} now"
             for k, v in new["options"].items() if old["options"].get(k) != v]
    return "different options (" + "; ".join(diffs) + ")"


class WorkDir:
    """Parts and manifest of one job; resumes a matching interrupted run."""

    def __init__(self, output: Path, rejected: Path, job: dict) -> None:
        self.output, self.rejected, self.job = output, rejected, job
        self.dir = output.with_name(output.name + ".parts")
        self.manifest_path = self.dir / MANIFEST
        self.parts: list[dict] = []
        self.published = False

    # ---- opening / resuming -------------------------------------------------------------
    def open(self, force: bool) -> None:
        """Start fresh, or adopt the verified parts of an interrupted run of the same job."""
        if force and self.dir.exists():
            shutil.rmtree(self.dir)
        manifest = self._read_manifest()
        if manifest is None:
            if self.output.exists() and not force:
                raise FileExistsError(f"{self.output} already exists; pass --force to replace it")
            self.dir.mkdir(exist_ok=True)
            self._save()
            return
        if manifest.get("job") != self.job:
            raise RuntimeError(f"cannot resume the interrupted run in {self.dir}: it used "
                               f"{describe_difference(manifest['job'], self.job)}; pass --force "
                               "to discard it and start over")
        self.published = bool(manifest.get("published")) and self.output.exists()
        self.parts = manifest["parts"] if self.published else self._verified(manifest["parts"])
        log.info("resuming %s: %d part(s) already done", self.output, len(self.parts))

    def _read_manifest(self) -> dict | None:
        """The manifest of an earlier run, None if there is none; unreadable -> error."""
        if not self.manifest_path.is_file():
            return None
        try:
            manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RuntimeError(f"unreadable manifest {self.manifest_path} ({exc}); pass --force "
                               "to start over") from None
        if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
            raise RuntimeError(f"{self.manifest_path} is not a scoring manifest; pass --force "
                               "to start over")
        return manifest

    def _verified(self, parts: list[dict]) -> list[dict]:
        """The longest prefix of recorded parts whose files are intact."""
        for i, part in enumerate(parts):
            for key in ("out", "rej"):
                path = self.dir / part[key]["name"]
                if not path.is_file() or sha256_file(path) != part[key]["sha256"]:
                    log.warning("part %d (%s) is missing or damaged; redoing from there", i, path)
                    return parts[:i]
        return parts

    # ---- progress -----------------------------------------------------------------------
    @property
    def totals(self) -> Totals:
        t = Totals()
        for p in self.parts:
            t.rows += p["rows"]
            t.scored += p["scored"]
            t.quarantined += p["quarantined"]
        return t

    def publish(self, rows: int, scored: int, write_out: Writer, write_rej: Writer,
                suffix: str) -> None:
        """Publish the next part's two files atomically, then record them in the manifest."""
        index = len(self.parts)
        entry = {"index": index, "rows": rows, "scored": scored, "quarantined": rows - scored}
        for key, write, ext in (("out", write_out, suffix), ("rej", write_rej, "rejected.jsonl")):
            path = self.dir / f"part-{index:06d}.{ext}"
            atomic_write(path, write)
            entry[key] = {"name": path.name, "sha256": sha256_file(path)}
        self.parts.append(entry)
        self._save()

    def _save(self) -> None:
        """Replace the manifest atomically (it is the commit point of each part)."""
        manifest = {"format": MANIFEST_FORMAT, "job": self.job, "parts": self.parts,
                    "published": self.published}
        atomic_write_bytes(self.manifest_path, json.dumps(manifest, indent=1).encode("utf-8"))

    # ---- final assembly -----------------------------------------------------------------
    def finish(self, assemble_out: Callable[[list[Path], BinaryIO], None],
               assemble_rej: Callable[[list[Path], BinaryIO], None]) -> None:
        """Assemble OUTPUT and the quarantine file from the parts, then remove the work dir."""
        if not self.published:
            rej = [self.dir / p["rej"]["name"] for p in self.parts]
            out = [self.dir / p["out"]["name"] for p in self.parts]
            atomic_write(self.rejected, lambda fh: assemble_rej(rej, fh))
            atomic_write(self.output, lambda fh: assemble_out(out, fh))
            self.published = True
            self._save()
        self._cleanup()

    def _cleanup(self) -> None:
        """Delete parts first and the manifest last, so a crash here still resumes cleanly."""
        for path in self.dir.iterdir():
            if path.name != MANIFEST:
                path.unlink()
        self.manifest_path.unlink(missing_ok=True)
        self.dir.rmdir()
