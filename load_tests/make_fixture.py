"""Write the load-test fixture: real texts from the test split of a built-in dataset.

The load generator must send varied, realistic texts (tokenization and LSTM cost grow with
length), never one repeated string, and never texts the model was trained on. This script takes
the test split exactly as training makes it (``training.datasets`` + ``training.split`` with the
card's seed), samples a fixed number of texts with a seeded RNG and writes a small JSON file.

    .venv/bin/python -m load_tests.make_fixture     # rewrites load_tests/data/test_texts.json
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

DEFAULT_OUT = Path(__file__).resolve().parent / "data" / "test_texts.json"


def build_fixture(dataset: str = "rotten_tomatoes", seed: int = 13, count: int = 600,
                  sample_seed: int = 0) -> dict:
    """Return {"source": {...}, "texts": [...]} sampled from the dataset's test split."""
    from training.datasets import load
    from training.split import split

    ds = load(dataset)
    test_texts = split(ds, seed=seed).test[0]
    rng = random.Random(sample_seed)
    picked = rng.sample(test_texts, min(count, len(test_texts)))
    texts = list(picked)
    source = {"dataset": dataset, "split": "test", "split_seed": seed, "sample_seed": sample_seed,
              "test_split_size": len(test_texts), "count": len(texts), **ds.source,
              "made_by": "python -m load_tests.make_fixture"}
    return {"source": source, "texts": texts}


def write_fixture(fixture: dict, out: Path) -> Path:
    """Write the fixture atomically (temp file + rename)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(fixture, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    tmp.replace(out)
    return out


def load_texts(path: Path = DEFAULT_OUT) -> list[str]:
    """Read the fixture's texts; a clear error when it is missing or malformed."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"load-test fixture {path} is missing; run "
                                "`python -m load_tests.make_fixture`") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"load-test fixture {path} is not valid JSON: {exc}") from None
    texts = data.get("texts") if isinstance(data, dict) else None
    if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise ValueError(f"load-test fixture {path} needs a non-empty list of non-empty 'texts'")
    return texts


def main(argv: list[str] | None = None) -> int:
    """Command line of the fixture script."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="rotten_tomatoes")
    p.add_argument("--seed", type=int, default=13, help="split seed (the card's; default 13)")
    p.add_argument("--count", type=int, default=600, help="texts to sample (default 600)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    path = write_fixture(build_fixture(args.dataset, args.seed, args.count), args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
