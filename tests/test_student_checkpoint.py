"""The student without PyTorch: ``torch.save`` archives read into NumPy
(:mod:`folk.data.torch_archive`) agree with ``torch.load``, and the NumPy VL-adapter
(:class:`folk.student.checkpoint.NumpyAdapter`) computes what the torch one computes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from folk.data.torch_archive import TorchArchiveError, read_torch_archive
from folk.errors import FolkInputError
from folk.student.checkpoint import (
    NUMPY_ACTIVATIONS,
    NumpyAdapter,
    load_numpy_adapter,
    read_checkpoint_arrays,
)
from folk.student.model import (
    ACTIVATIONS,
    VLAdapter,
    adapter_state,
    load_adapter,
    save_adapter,
)


def _same(a, b) -> None:
    """``a`` (torch.load's) and ``b`` (read without torch) hold the same values."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, np.ndarray) and b.flags.owndata
        assert b.dtype == a.numpy().dtype and b.shape == tuple(a.shape)
        np.testing.assert_array_equal(b, a.numpy())
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and b.dtype == a.dtype
        np.testing.assert_array_equal(b, a)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b)
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    else:
        assert a == b and type(a) is type(b)


def test_archives_read_without_torch_equal_torch_load(tmp_path):
    g = torch.Generator().manual_seed(3)
    base = torch.randn(7, 13, generator=g)
    obj = {
        "transposed": base.t(),  # strides (1, 13)
        "sliced": base[2:5, 3:11:2],  # an offset into a shared storage
        "shared": base,
        "int64": torch.randint(-9, 9, (5,), generator=g),
        "int32": torch.arange(11, dtype=torch.int32),
        "half": torch.randn(3, 3, generator=g).half(),
        "double": torch.randn(2, dtype=torch.float64, generator=g),
        "bytes": torch.randint(0, 255, (17,), dtype=torch.uint8, generator=g),
        "bool": torch.rand(6, generator=g) > 0.5,
        "empty": torch.zeros(0, 4),
        "scalar": torch.tensor(2.5),
        "nested": {"list": [1, 2.5, "x", None, True], "tuple": (torch.ones(2), "y")},
        "array": np.arange(6, dtype=np.float16).reshape(2, 3),
    }
    torch.save(obj, tmp_path / "a.pt")
    _same(torch.load(tmp_path / "a.pt", weights_only=False), read_torch_archive(tmp_path / "a.pt"))


def test_archives_with_anything_else_are_refused_not_run(tmp_path):
    torch.save({"w": torch.ones(2, dtype=torch.bfloat16)}, tmp_path / "bf16.pt")
    with pytest.raises(TorchArchiveError, match="read only by PyTorch"):
        read_torch_archive(tmp_path / "bf16.pt")
    torch.save({"f": np.random.default_rng}, tmp_path / "code.pt")  # a callable by reference
    with pytest.raises(TorchArchiveError, match="numpy.random"):
        read_torch_archive(tmp_path / "code.pt")
    (tmp_path / "text.pt").write_text("not a zip")
    with pytest.raises(TorchArchiveError, match="not a zip"):
        read_torch_archive(tmp_path / "text.pt")
    with pytest.raises(FolkInputError, match="text.pt: not a readable folk checkpoint"):
        read_checkpoint_arrays(tmp_path / "text.pt")
    with pytest.raises(FolkInputError, match="checkpoint not found"):
        read_checkpoint_arrays(tmp_path / "missing.pt")


def test_numpy_and_torch_activations_are_the_same_set():
    assert set(NUMPY_ACTIVATIONS) == set(ACTIVATIONS)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_numpy_adapter_equals_the_torch_adapter(activation, tmp_path):
    torch.manual_seed(11)
    model = VLAdapter(37, 53, 29, activation)
    with torch.no_grad():  # awkward weights: a trained adapter is not at its initialisation
        for p in model.parameters():
            p.mul_(3.0)
    save_adapter(tmp_path / "a.pt", model, {"tau_l": 0.02})
    numpy_model, meta = load_numpy_adapter(tmp_path / "a.pt", in_dim=37)
    torch_model, torch_meta = load_adapter(tmp_path / "a.pt", in_dim=37)
    assert meta == torch_meta == {"tau_l": 0.02}
    pooled = np.random.default_rng(2).normal(scale=2.0, size=(41, 37)).astype(np.float32)
    expected = torch_model.embed(pooled)
    got = numpy_model.embed(pooled)
    assert got.dtype == np.float32 and got.shape == (41, 29)
    np.testing.assert_allclose(got, expected, atol=2e-6)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)


def test_a_training_checkpoint_and_its_folder_load_without_torch(tmp_path):
    model = VLAdapter(5, 8, 4)
    state = {"format": "folk-train", "epoch": 3, "adapter": adapter_state(model, {"x": 1}),
             "optimizer": {"state": {0: {"step": torch.tensor(3.0)}}}}
    (tmp_path / "run").mkdir()
    torch.save(state, tmp_path / "run" / "last.pt")
    adapter, meta = load_numpy_adapter(tmp_path / "run")
    assert (adapter.in_dim, adapter.out_dim, meta) == (5, 4, {"x": 1})


def test_bad_checkpoints_are_clear_errors_naming_the_file(tmp_path):
    model = VLAdapter(6, 8, 4)
    save_adapter(tmp_path / "a.pt", model)
    with pytest.raises(FolkInputError, match=r"a.pt: the checkpoint's adapter takes 6-dim"):
        load_numpy_adapter(tmp_path / "a.pt", in_dim=7)
    with torch.no_grad():
        model.mlp[0].weight[1, 2] = float("nan")
    save_adapter(tmp_path / "nan.pt", model)
    with pytest.raises(FolkInputError, match=r"nan.pt: checkpoint weights hold NaN"):
        load_numpy_adapter(tmp_path / "nan.pt")
    state = adapter_state(VLAdapter(6, 8, 4))
    state["state_dict"]["mlp.2.bias"] = torch.zeros(5)
    torch.save(state, tmp_path / "shape.pt")
    with pytest.raises(FolkInputError, match=r"shape.pt: .*mlp.2.bias is \(5,\), \(4,\) expected"):
        load_numpy_adapter(tmp_path / "shape.pt")
    torch.save({"weights": torch.ones(2)}, tmp_path / "other.pt")
    with pytest.raises(FolkInputError, match="other.pt: not a folk VL-adapter checkpoint"):
        load_numpy_adapter(tmp_path / "other.pt")


def test_numpy_adapter_refuses_features_of_another_width():
    model = NumpyAdapter(VLAdapter(3, 4, 2).config,
                         {k: v.numpy() for k, v in VLAdapter(3, 4, 2).state_dict().items()})
    with pytest.raises(FolkInputError, match="takes 3-dim features"):
        model.embed(np.zeros((2, 4), np.float32))


def test_predict_scene_gives_the_same_instances_with_either_adapter(tmp_path):
    from folk.data.scene import Proposals
    from folk.predict import predict_scene

    torch.manual_seed(5)
    save_adapter(tmp_path / "a.pt", VLAdapter(9, 16, 7))
    rng = np.random.default_rng(6)
    n, q = 203, 11
    features = rng.normal(size=(n, 9)).astype(np.float32)
    masks = rng.random((n, q)) < 0.2
    masks[np.arange(q) * 3, np.arange(q)] = True  # no empty proposal
    proposals = Proposals(masks, rng.uniform(0.2, 1.0, q).astype(np.float32))
    text = rng.normal(size=(5, 7)).astype(np.float32)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    ids = np.array([3, 5, 7, 9, 11])
    runs = [predict_scene(features, proposals, load(tmp_path / "a.pt")[0], text, ids,
                          tau_l=0.05) for load in (load_adapter, load_numpy_adapter)]
    np.testing.assert_array_equal(runs[0].proposal_index, runs[1].proposal_index)
    np.testing.assert_array_equal(runs[0].label_ids, runs[1].label_ids)
    np.testing.assert_allclose(runs[0].confidences, runs[1].confidences, rtol=1e-5)
