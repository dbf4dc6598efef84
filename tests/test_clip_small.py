"""The committed small CLIP (python/folk/clip/weights/folk-small-clip.pt)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from folk.clip import DEFAULT_MODEL, load_clip
from folk.clip.crops import Crops, scene_crops, zero_shot_accuracy
from folk.clip.loader import PACKAGED_WEIGHTS, file_sha256

# Held-out seeds of scripts/train_small_clip.py (never trained on).
HELDOUT = (2000, 2001)


@pytest.fixture(scope="module")
def clip():
    return load_clip()  # the packaged default, no arguments


@pytest.fixture(scope="module")
def heldout_crops(tmp_path_factory):
    from folk.synthetic import VOCABULARY, generate_scene

    out = tmp_path_factory.mktemp("heldout")
    parts = []
    for i, seed in enumerate(HELDOUT):
        s = generate_scene(out, seed=seed, preset="small", progress=False, n_frames=30)
        parts.append(scene_crops(s.root, list(VOCABULARY), np.random.default_rng(i),
                                 margin=(0.1, 0.1), max_views=6))
    return Crops.concatenate(parts)


def test_packaged_checkpoint_is_small_and_matches_its_log():
    path = PACKAGED_WEIGHTS[DEFAULT_MODEL]
    assert path.stat().st_size <= 20e6
    log = json.loads(path.with_suffix(".log.json").read_text())
    assert log["sha256"] == file_sha256(path)
    assert log["heldout_zero_shot_accuracy"] >= 0.9


def test_small_clip_zero_shot_on_heldout_synthetic_crops(clip, heldout_crops):
    assert len(heldout_crops) >= 50
    assert len(set(heldout_crops.labels.tolist())) >= 5
    acc = zero_shot_accuracy(clip, heldout_crops, "a {} in the scene")
    assert acc >= 0.9, f"zero-shot accuracy {acc:.3f} on {len(heldout_crops)} held-out crops"


def test_default_model_loads_offline_with_its_identity(clip):
    assert clip.name == DEFAULT_MODEL
    assert clip.identity.endswith(file_sha256(PACKAGED_WEIGHTS[DEFAULT_MODEL]))
    assert clip.image_size == (64, 64) and clip.embed_dim == 128


def test_small_clip_warns_on_words_it_was_never_trained_on(clip, tmp_path):
    import warnings

    from folk.clip.text import text_embeddings
    from folk.errors import UntrainedWordWarning
    from folk.synthetic import VOCABULARY

    assert set(clip.trained_vocabulary) == set(VOCABULARY)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text_embeddings(clip, ["chair", "lamp"], cache_dir=tmp_path)
        assert not caught
        text_embeddings(clip, ["chair", "office chair"], cache_dir=tmp_path)
    [warning] = caught
    assert warning.category is UntrainedWordWarning
    assert "never saw 'office chair'" in str(warning.message)
    assert "'chair'" not in str(warning.message).split("never saw", 1)[1]
