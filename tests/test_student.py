"""The VL-adapter: normalised outputs, one checkpoint format, clear dimension errors."""

from __future__ import annotations

import pytest
import torch

from folk.errors import FolkInputError
from folk.student import VLAdapter, load_adapter, save_adapter
from folk.student.model import adapter_state


def test_adapter_outputs_unit_vectors_of_out_dim():
    torch.manual_seed(0)
    model = VLAdapter(7, 11, 5)
    out = model(torch.randn(13, 7) * 50)
    assert out.shape == (13, 5)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(13))


def test_adapter_is_linear_activation_linear():
    model = VLAdapter(3, 4, 2, activation="relu")
    x = torch.randn(6, 3)
    l1, l2 = model.mlp[0], model.mlp[2]
    expected = torch.nn.functional.normalize(l2(torch.relu(l1(x))), dim=-1)
    torch.testing.assert_close(model(x), expected)


def test_checkpoint_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(1)
    model = VLAdapter(8, 16, 4, activation="silu")
    save_adapter(tmp_path / "a.pt", model, meta={"tau_l": 0.02})
    loaded, meta = load_adapter(tmp_path / "a.pt", in_dim=8, out_dim=4)
    x = torch.randn(5, 8)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert meta == {"tau_l": 0.02} and loaded.config == model.config


def test_training_checkpoint_and_directory_are_accepted(tmp_path):
    model = VLAdapter(4, 6, 3)
    torch.save({"format": "folk-distill", "adapter": adapter_state(model)}, tmp_path / "last.pt")
    loaded, _ = load_adapter(tmp_path)  # directory -> best.pt, else last.pt
    x = torch.randn(2, 4)
    torch.testing.assert_close(loaded(x), model(x))


def test_checkpoint_of_wrong_feature_dimension_is_a_clear_error(tmp_path):
    save_adapter(tmp_path / "a.pt", VLAdapter(128, 16, 4))
    with pytest.raises(FolkInputError, match="takes 128-dim point features but the given "
                                             "features have 96"):
        load_adapter(tmp_path / "a.pt", in_dim=96)
    with pytest.raises(FolkInputError, match="outputs 4-dim embeddings but the text "
                                             "embeddings have 768"):
        load_adapter(tmp_path / "a.pt", out_dim=768)


def test_feeding_features_of_wrong_width_is_a_clear_error():
    with pytest.raises(FolkInputError, match="takes 5-dim features, got 6"):
        VLAdapter(5, 4, 3)(torch.zeros(2, 6))


def test_unreadable_or_foreign_files_are_rejected(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(FolkInputError, match="not a readable folk checkpoint"):
        load_adapter(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(FolkInputError, match="not a folk VL-adapter checkpoint"):
        load_adapter(tmp_path / "other.pt")
    with pytest.raises(FolkInputError, match="not found"):
        load_adapter(tmp_path / "missing.pt")


def test_bad_config_is_rejected():
    with pytest.raises(FolkInputError, match="unknown activation"):
        VLAdapter(3, 4, 2, activation="swish9")
    with pytest.raises(FolkInputError, match="hidden must be >= 1"):
        VLAdapter(3, 0, 2)
