"""Vocabulary names resolve the same way for the teacher, distillation and prediction."""

from __future__ import annotations

from folk.data.vocabulary import resolve_vocabulary
from folk.synthetic import VOCABULARY, VOCABULARY_IDS


def test_synthetic_vocabulary_carries_its_scannet200_ids():
    vocab = resolve_vocabulary("synthetic")
    assert vocab.names == VOCABULARY
    assert vocab.label_ids == tuple(VOCABULARY_IDS[n] for n in VOCABULARY)
    # the same ids a comma-separated list of the same ScanNet200 names gets
    assert resolve_vocabulary(",".join(VOCABULARY)).label_ids == vocab.label_ids
