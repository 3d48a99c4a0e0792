"""Train the Hugging Face tokenizer whose ``tokenizer.json`` is the whole preprocessing contract.

Pad id 0 and unknown id 1 are fixed; truncation to the bundle's max tokens and padding to the
longest text in a batch are saved inside ``tokenizer.json``, so serving only calls
``Tokenizer.from_file(...).encode_batch(texts)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

PAD, UNK = "[PAD]", "[UNK]"


@dataclass(frozen=True)
class TokenizerConfig:
    """Tokenizer options (all recorded in the card)."""

    kind: str = "word"  # word | wordpiece | minilm (MiniLM's own WordPiece, see training.wordpiece)
    vocab_size: int = 20000
    min_frequency: int = 1
    lowercase: bool = True
    strip_accents: bool = True
    max_tokens: int = 64


def _normalizer(cfg: TokenizerConfig) -> normalizers.Normalizer:
    steps: list[normalizers.Normalizer] = [normalizers.NFKC()]
    if cfg.lowercase:
        steps.append(normalizers.Lowercase())
    if cfg.strip_accents:
        steps += [normalizers.NFD(), normalizers.StripAccents(), normalizers.NFC()]
    return normalizers.Sequence(steps)


def train_tokenizer(texts: list[str], cfg: TokenizerConfig) -> Tokenizer:
    """MiniLM's fixed WordPiece tokenizer, or a word-level / WordPiece one fit on training texts."""
    if cfg.kind == "minilm":
        from training.wordpiece import student_tokenizer

        return student_tokenizer(cfg.max_tokens)
    if cfg.kind == "word":
        tok = Tokenizer(models.WordLevel(unk_token=UNK))
        trainer = trainers.WordLevelTrainer(vocab_size=cfg.vocab_size, min_frequency=cfg.min_frequency,
                                            special_tokens=[PAD, UNK])
    elif cfg.kind == "wordpiece":
        tok = Tokenizer(models.WordPiece(unk_token=UNK))
        trainer = trainers.WordPieceTrainer(vocab_size=cfg.vocab_size, min_frequency=cfg.min_frequency,
                                            special_tokens=[PAD, UNK])
    else:
        raise ValueError(f"unknown tokenizer kind {cfg.kind!r}")
    tok.normalizer = _normalizer(cfg)
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=False)])
    tok.train_from_iterator(texts, trainer=trainer)
    assert tok.token_to_id(PAD) == 0 and tok.token_to_id(UNK) == 1
    tok.enable_truncation(max_length=cfg.max_tokens)
    tok.enable_padding(pad_id=0, pad_token=PAD)
    return tok
