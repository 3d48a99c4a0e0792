"""core.textenc: the ASCII twin gives tokenizer.json's ids, and only where that is certain.

The twin serves word-level tokenizers with NFD/StripAccents/Lowercase normalizers (the ``word``
tokenizer kind of ``sentiment train``) and the shipped MiniLM WordPiece tokenizer (BertNormalizer,
then a Replace that deletes characters the vocabulary cannot spell, none of them ASCII)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from core.textenc import TextEncoder, ascii_steps, ascii_twin, encode_texts, is_char_class

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


def test_shipped_bundle_twin_keeps_its_ids(default_bundle: Path) -> None:
    """The shipped normalizer (BertNormalizer, Replace) becomes one BertNormalizer without the
    CJK and accent passes; every ASCII character, alone and in words, keeps its ids."""
    shipped = TextEncoder.from_file(default_bundle / "tokenizer.json", MAX)
    assert shipped.twin is not None
    assert type(shipped.twin.normalizer).__name__ == "BertNormalizer"
    assert type(shipped.tokenizer.normalizer).__name__ == "Sequence"  # the bundle's, untouched
    texts = ascii_texts() + ["Très 😀 great", "don't", "ÀÉÎ SHOUT"] + review_texts()
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


# deletes every character but the ASCII ones that are not capitals
KEEP_ASCII = {"type": "Replace", "pattern": {"Regex": "[^\\x00-@\\[-\\x7f]"}, "content": ""}


@pytest.mark.parametrize(("spec", "expected"), [
    (None, []),
    ({"type": "Lowercase"}, ["Lowercase"]),
    ({"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "StripAccents"}]}, []),
    ({"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "Lowercase"}]}, ["Lowercase"]),
    ({"type": "BertNormalizer", "lowercase": True}, ["BertNormalizer"]),
    # after lowercasing, the class keeps every character that can reach it: the step goes
    ({"type": "Sequence", "normalizers": [{"type": "Lowercase"}, KEEP_ASCII]}, ["Lowercase"]),
    # without lowercasing first, it would delete capitals: no twin
    ({"type": "Sequence", "normalizers": [KEEP_ASCII, {"type": "Lowercase"}]}, None),
    ({"type": "Replace", "pattern": {"String": "é"}, "content": "e"}, []),
    ({"type": "Replace", "pattern": {"String": "ab"}, "content": "x"}, None),
    ({"type": "Replace", "pattern": {"Regex": "[^a-z]+"}, "content": ""}, None),  # not one class
    ({"type": "Precompiled"}, None),
])
def test_ascii_steps(spec: dict | None, expected: list[str] | None) -> None:
    steps = ascii_steps(spec)
    assert (None if steps is None else [type(n).__name__ for n in steps]) == expected


@pytest.mark.parametrize(("pattern", "expected"), [
    ("[^a-z]", True), ("[a\\]b]", True), ("[\\s!\\-.]", True), ("[a\\]", False),
    ("[[:alpha:]]", False), ("[a-z&&[^b]]", False), ("[a-z--b]", False), ("[]a]", False),
    ("[^]", False), ("ab", False), ("[a-z]+", False), ("[a-z]|b", False),
])
def test_is_char_class(pattern: str, expected: bool) -> None:
    assert is_char_class(pattern) is expected


def word_tokenizer(normalizer) -> Tokenizer:
    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1, "world": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    if normalizer is not None:
        tok.normalizer = normalizer
    return tok


def test_no_twin_where_ascii_output_could_differ_or_nothing_is_saved() -> None:
    assert ascii_twin(word_tokenizer(None)) is None
    twin = ascii_twin(word_tokenizer(normalizers.BertNormalizer()))  # keeps dropping controls
    assert twin is not None and twin.encode("Hello\x07 \tWORLD").ids == [1, 2]
    assert ascii_twin(word_tokenizer(normalizers.Replace("l", "L"))) is None
    twin = ascii_twin(word_tokenizer(normalizers.Sequence([normalizers.NFKC()])))
    assert twin is not None and twin.normalizer is None
    assert twin.encode("hello world").ids == [1, 2]


def test_truncation_survives_the_twin() -> None:
    twin = ascii_twin(review_tokenizer())
    assert twin is not None and len(twin.encode("word " * 500).ids) == MAX


def review_texts() -> list[str]:
    path = Path(__file__).resolve().parents[2] / "load_tests" / "data" / "test_texts.json"
    texts: list[str] = json.loads(path.read_text(encoding="utf-8"))["texts"]
    return texts


def test_real_review_texts_get_tokenizer_json_ids(encoder: TextEncoder) -> None:
    texts = review_texts()
    assert 0 < sum(not t.isascii() for t in texts) < len(texts)  # both paths are exercised
    assert encoder.encode(texts) == encode_texts(encoder.tokenizer, texts, MAX)
