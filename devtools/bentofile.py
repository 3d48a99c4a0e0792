"""Regenerate bentofile.yaml's pinned packages: the `serve` extra and everything it needs at run
time, at the exact versions of constraints.txt, so a built Bento installs what the tests ran.

    python -m devtools.bentofile          # rewrite bentofile.yaml's package list
    python -m devtools.bentofile --check  # exit 1 if it is out of date (CI)
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import re
import sys
import tomllib

from packaging.requirements import Requirement

from core.paths import PROJECT_ROOT

BENTOFILE = PROJECT_ROOT / "bentofile.yaml"
BEGIN, END = "  packages:\n", "docker:\n"


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def constraints() -> dict[str, str]:
    """Normalized name -> pinned version, from constraints.txt."""
    lines = (PROJECT_ROOT / "constraints.txt").read_text().split()
    return {norm(k): v for k, v in (ln.split("==") for ln in lines if "==" in ln)}


def closure(roots: list[str]) -> set[str]:
    """The requirements of ``roots`` and theirs, as installed here (markers for this Python;
    extras of a requirement followed)."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in roots]
    while todo:
        req = todo.pop()
        name = norm(req.name)
        if name in seen:
            continue
        seen.add(name)
        for raw in md.requires(req.name) or []:
            dep = Requirement(raw)
            env = [{"extra": e} for e in req.extras] or [{"extra": ""}]
            if dep.marker is None or any(dep.marker.evaluate(e) for e in env):
                todo.append(dep)
    return seen


def pinned_packages() -> list[str]:
    """``name==version`` for the serve extra's run-time closure, sorted."""
    serve = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["serve"]
    pins = constraints()
    return sorted(f"{name}=={pins[name]}" for name in closure(serve))


def render(text: str, packages: list[str]) -> str:
    """``text`` (bentofile.yaml) with its ``python.packages`` list replaced."""
    head, rest = text.split(BEGIN, 1)
    tail = rest[rest.index(END):]
    return head + BEGIN + "".join(f"    - {p}\n" for p in packages) + tail


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only report whether it is up to date")
    args = p.parse_args(argv)
    text = BENTOFILE.read_text()
    new = render(text, pinned_packages())
    if args.check:
        print("bentofile.yaml is up to date" if new == text else "bentofile.yaml is stale")
        return 0 if new == text else 1
    BENTOFILE.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
