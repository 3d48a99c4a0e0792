"""`sentiment explain TEXT...`: why the model decided, token by token, in the terminal.

Each text is printed with its tokens colored by their step (how much reading the token moved
the running score; PuOr palette: orange lowers it, purple raises it), then the running score
as a sparkline and the label. ``--json`` prints one JSON object per text instead (the same
fields as ``POST /explain``); ``--tokens`` adds a table of every token's numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.paths import default_model_dir

BLOCKS = "▁▂▃▄▅▆▇█"
FULL_STEP = 0.2  # a step this large gets the palette's end color (as on the web page)
NEG, MID, POS = (230, 97, 1), (247, 247, 247), (128, 115, 172)


def add_arguments(name: str, p: argparse.ArgumentParser) -> None:
    p.add_argument("texts", nargs="*", help="texts to explain (default: one per line on stdin)")
    p.add_argument("--model", type=Path, default=default_model_dir(),
                   help="bundle dir (default: $SENTIMENT_MODEL_DIR or the shipped bundle, %(default)s)")
    p.add_argument("--json", action="store_true", help="one JSON object per text (for scripts)")
    p.add_argument("--tokens", action="store_true", help="also print a table of every token's "
                   "running score, step and leave-one-out effect")


def step_color(step: float | None) -> str:
    """The background color of a token with this step, as a rich color."""
    t = max(-1.0, min(1.0, (step or 0.0) / FULL_STEP))
    end = NEG if t < 0 else POS
    r, g, b = (round(m + (e - m) * abs(t)) for m, e in zip(MID, end, strict=True))
    return f"rgb({r},{g},{b})"


def sparkline(values: list[float]) -> str:
    """Running scores (0..1) as block characters."""
    return "".join(BLOCKS[min(len(BLOCKS) - 1, max(0, int(v * len(BLOCKS))))] for v in values)


def colored_text(text: str, res: dict[str, Any]) -> Any:
    """The user's text with each scored token on its step color and cut tokens struck out."""
    from rich.text import Text

    out, at = Text(), 0
    pieces = [(t, False) for t in res["tokens"] if not t["special"]]
    pieces += [(t, True) for t in res["truncated"]]
    for tok, cut in pieces:
        if tok["start"] < at:
            continue
        out.append(text[at:tok["start"]])
        if cut:
            style = "dim strike"
        else:
            style = f"black on {step_color(tok['step'])}" + (" underline" if tok["unk"] else "")
        out.append(text[tok["start"]:tok["end"]], style=style)
        at = tok["end"]
    out.append(text[at:])
    return out


def num(x: float | None, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def token_table(text: str, res: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for name in ("#", "token", f"P({res['target']})", "step", "without it"):
        table.add_column(name, justify="left" if name == "token" else "right")
    for i, tok in enumerate(res["tokens"], 1):
        name = f"{text[tok['start']:tok['end']]} [UNK]" if tok["unk"] else tok["token"]
        table.add_row(str(i), name, num(tok["running"], ".3f"), num(tok["step"], "+.3f"),
                      num(tok["loo"], "+.3f"))
    return table


def show(console: Any, text: str, res: dict[str, Any], tokens: bool) -> None:
    """One text's explanation for a person."""
    running = [t["running"] for t in res["tokens"] if t["running"] is not None]
    console.print(colored_text(text, res))
    if running:
        console.print(f"  P({res['target']}): {num(res['baseline'], '.2f')} {sparkline(running)} "
                      f"{running[-1]:.3f} over {len(running)} tokens"
                      + (f" ({len(res['truncated'])} past the limit, not read)"
                         if res["truncated"] else ""), highlight=False)
    console.print(f"  [bold]{res['label']}[/bold] {res['score']:.3f}", highlight=False)
    if tokens:
        console.print(token_table(text, res))


def run(name: str, args: argparse.Namespace) -> int:
    from core.explain import explain
    from core.runtime import Predictor

    texts = args.texts or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not texts:
        raise ValueError("no texts given (as arguments or on stdin)")
    blank = next((i for i, t in enumerate(texts, 1) if not t.strip()), None)
    if blank is not None:
        raise ValueError(f"text {blank} is empty or whitespace-only: there is nothing to explain")
    results = explain(Predictor(args.model), texts)
    if args.json:
        for text, res in zip(texts, results, strict=True):
            print(json.dumps({"text": text, **res}, ensure_ascii=False))
        return 0
    from rich.console import Console

    console = Console()
    for i, (text, res) in enumerate(zip(texts, results, strict=True)):
        if i:
            console.print()
        show(console, text, res, args.tokens)
    console.print("\n[dim]colors: orange lowers the running score, purple raises it; "
                  "underlined: [UNK][/dim]", highlight=False)
    return 0
