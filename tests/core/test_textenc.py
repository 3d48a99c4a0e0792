"""core.textenc: the ASCII twin gives tokenizer.json's ids, and only where that is certain.

The twin applies to word-level tokenizers with NFD/StripAccents/Lowercase normalizers (the
``word`` tokenizer kind of ``sentiment train``); the shipped MiniLM WordPiece tokenizer has a
BertNormalizer, gets no twin and is encoded by tokenizer.json itself."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from core.textenc import TextEncoder, ascii_steps, ascii_twin, encode_texts

MAX = 64


def review_tokenizer() -> Tokenizer:
    """A word-level tokenizer of the kind the twin serves: NFD + StripAccents + Lowercase."""
    vocab = {"[PAD]": 0, "[UNK]": 1}
    for w in "great film a moving dull don't 123 4 5 ab cd the of and".split():
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents(),
                                           normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace()])
    tok.enable_truncation(MAX)
    return tok


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder(review_tokenizer(), MAX)


def test_shipped_bundle_has_no_twin_and_keeps_its_ids(default_bundle: Path) -> None:
    shipped = TextEncoder.from_file(default_bundle / "tokenizer.json", MAX)
    assert shipped.twin is None  # BertNormalizer: not a step known to be identity on ASCII
    texts = ascii_texts()[:300] + ["Très 😀 great", "don't"]
    assert shipped.encode(texts) == [shipped.tokenizer.encode(t).ids[:MAX] for t in texts]


def ascii_texts(seed: int = 0) -> list[str]:
    """Every ASCII character alone and inside words, plus random ASCII strings of all lengths."""
    chars = [chr(c) for c in range(128)]
    rng = random.Random(seed)
    texts = chars + [f"Ab{c}Cd {c}9{c}" for c in chars]
    texts += ["".join(rng.choices(chars, k=rng.randint(0, 400))) for _ in range(300)]
    words = "Great GREAT great fIlM 123 4.5 don't -- ;) \t\n \x00 \x7f".split(" ")
    texts += [" ".join(rng.choices(words, k=rng.randint(1, 90))) for _ in range(300)]
    return texts


def test_word_tokenizer_gets_a_lowercase_only_twin(encoder: TextEncoder) -> None:
    assert encoder.twin is not None
    assert type(encoder.twin.normalizer).__name__ == "Lowercase"
    assert type(encoder.tokenizer.normalizer).__name__ == "Sequence"  # the bundle's, untouched


def test_twin_ids_equal_tokenizer_json_ids_on_ascii(encoder: TextEncoder) -> None:
    texts = ascii_texts()
    assert all(t.isascii() for t in texts)
    want = [encoder.tokenizer.encode(t).ids[:MAX] for t in texts]
    assert encoder.encode(texts) == want
    assert [encoder.encode([t])[0] for t in texts[:300]] == want[:300]


def test_mixed_batches_keep_their_order(encoder: TextEncoder) -> None:
    other = ["Café crème naïve", "ＦＵＬＬ width", "🎬 great 🍿", "映画はよかった", "ﬁne ligature",
             "Ⅻ roman", "e\u0301 combining", "ÀÉÎÕÜ SHOUT"]
    rng = random.Random(1)
    texts = ascii_texts(2)[:200] + other * 5
    rng.shuffle(texts)
    assert encoder.encode(texts) == encode_texts(encoder.tokenizer, texts, MAX)
    assert encoder.encode(other) == encode_texts(encoder.tokenizer, other, MAX)
    assert encoder.encode([]) == []


@pytest.mark.parametrize(("spec", "expected"), [
    (None, (True, False)),
    ({"type": "Lowercase"}, (True, True)),
    ({"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "StripAccents"}]},
     (True, False)),
    ({"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "Lowercase"}]}, (True, True)),
    ({"type": "Sequence", "normalizers": [{"type": "Lowercase"}, {"type": "Replace"}]},
     (False, True)),
    ({"type": "BertNormalizer", "lowercase": True}, (False, False)),
    ({"type": "Precompiled"}, (False, False)),
])
def test_ascii_steps(spec: dict | None, expected: tuple[bool, bool]) -> None:
    assert ascii_steps(spec) == expected


def word_tokenizer(normalizer) -> Tokenizer:
    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1, "world": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    if normalizer is not None:
        tok.normalizer = normalizer
    return tok


def test_no_twin_where_ascii_output_could_differ_or_nothing_is_saved() -> None:
    assert ascii_twin(word_tokenizer(None)) is None
    assert ascii_twin(word_tokenizer(normalizers.BertNormalizer())) is None  # drops control chars
    assert ascii_twin(word_tokenizer(normalizers.Replace("l", "L"))) is None
    twin = ascii_twin(word_tokenizer(normalizers.Sequence([normalizers.NFKC()])))
    assert twin is not None and twin.normalizer is None
    assert twin.encode("hello world").ids == [1, 2]


def test_truncation_survives_the_twin() -> None:
    twin = ascii_twin(review_tokenizer())
    assert twin is not None and len(twin.encode("word " * 500).ids) == MAX


def test_real_review_texts_get_tokenizer_json_ids(encoder: TextEncoder) -> None:
    import json

    path = Path(__file__).resolve().parents[2] / "load_tests" / "data" / "test_texts.json"
    texts = json.loads(path.read_text(encoding="utf-8"))["texts"]
    assert 0 < sum(not t.isascii() for t in texts) < len(texts)  # both paths are exercised
    assert encoder.encode(texts) == encode_texts(encoder.tokenizer, texts, MAX)
