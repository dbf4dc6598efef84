"""The CUDA bindings check their arguments before they launch anything.

folk._cuda takes any object exposing ``__cuda_array_interface__``. These tests call the real
bindings with stand-ins whose interface dict is wrong in one way (dtype, shape, strides,
writability, grouping, or not a CUDA array at all) and check that a TypeError / ValueError names
the function and the argument. The checks run before CUDA is touched, so they run without a
GPU; folk._cuda is built wherever nvcc is (tests/test_extensions.py checks that).
"""

from __future__ import annotations

import numpy as np
import pytest

from folk.ops import extensions

cuda = pytest.importorskip("folk._cuda", reason="folk._cuda is not built (no CUDA toolkit)")

# An address no allocation of this process is at: the bindings must never dereference it.
FAKE_ADDRESS = 0x7F0000000000


class FakeCudaArray:
    """Exposes a hand-written ``__cuda_array_interface__`` (version 3) and nothing else."""

    def __init__(self, typestr: str, shape: tuple, strides: tuple | None = None,
                 readonly: bool = False):
        self.__cuda_array_interface__ = {
            "version": 3, "typestr": typestr, "shape": tuple(int(s) for s in shape),
            "strides": strides, "data": (FAKE_ADDRESS, readonly), "mask": None,
        }


TYPESTR = {np.float32: "<f4", np.int32: "<i4", np.int64: "<i8", np.uint8: "|u1"}


def fake(dtype, *shape, **kwargs) -> FakeCudaArray:
    return FakeCudaArray(TYPESTR[dtype], shape, **kwargs)


# ---- well-formed argument sets of awkward sizes ----------------------------------------------

N, F, H, W, Q, NNZ, P = 11, 3, 5, 7, 4, 9, 6
WORDS = (H * W + 31) // 32


def visibility_counts_args() -> dict:
    return {
        "points": fake(np.float32, N, 3),
        "frames": (fake(np.float32, F, 12), fake(np.float32, F, 4), fake(np.uint8, F),
                   fake(np.float32, F, H, W)),
        "membership": (fake(np.int64, Q + 1), fake(np.int32, NNZ)),
        "delta": 0.2, "bitmaps": fake(np.int32, 2, WORDS),
        "out_counts": fake(np.int32, F, Q), "out_pixels": fake(np.int32, F, Q), "stream": 0,
    }


def visibility_pixels_args() -> dict:
    args = visibility_counts_args()
    del args["out_counts"]
    args.update(pairs=fake(np.int64, P, 2), out_offsets=fake(np.int64, P + 1),
                out_pixels=fake(np.int32, 17))
    return args


def mask_crops_args() -> dict:
    return {"masks": (fake(np.int64, P + 1), fake(np.int32, 40)), "height": H, "width": W,
            "radius": 2, "iterations": 2, "out_crops": fake(np.int32, P, 4), "stream": 0}


def complete_masks_args() -> dict:
    n = 123
    return {"masks": (fake(np.int64, P + 1), fake(np.int32, 40)), "width": W,
            "crops": fake(np.int32, P, 4), "crop_offsets": fake(np.int64, P + 1),
            "params": (2, fake(np.int32, 7), 5_000_000, 3, 2), "out": fake(np.uint8, n),
            "scratch": (fake(np.uint8, n), fake(np.int32, n), fake(np.int32, n)), "stream": 0}


ARGS = {"visibility_counts": visibility_counts_args, "visibility_pixels": visibility_pixels_args,
        "mask_crops": mask_crops_args, "complete_masks": complete_masks_args}


def call(function: str, **change):
    args = {**ARGS[function](), **change}
    return getattr(cuda, function)(**args)


def replace(group: tuple, index: int, value) -> tuple:
    return (*group[:index], value, *group[index + 1:])


def frames_with(index: int, value) -> dict:
    return {"frames": replace(visibility_counts_args()["frames"], index, value)}


# ---- each case: (function, change, exception, message) -----------------------------------------

CASES = {
    "depths-dtype": ("visibility_counts", frames_with(3, FakeCudaArray("<i4", (F, H, W))),
                     TypeError, "visibility_counts: 'depths' must be float32, got <i4"),
    "depths-big-endian": ("visibility_counts", frames_with(3, FakeCudaArray(">f4", (F, H, W))),
                          TypeError, "'depths' must be float32, got >f4"),
    "depths-ndim": ("visibility_counts", frames_with(3, fake(np.float32, F, H * W)),
                    ValueError, r"'depths' must have shape \(\*, \*, \*\), got \(3, 35\)"),
    "depths-strides": ("visibility_counts",
                       frames_with(3, fake(np.float32, F, H, W, strides=(4, 4 * F, 4 * F * H))),
                       ValueError, "'depths' must be C-contiguous, got strides"),
    "cam-frames": ("visibility_counts", frames_with(0, fake(np.float32, F + 1, 12)),
                   ValueError, r"'cam' must have shape \(3, 12\), got \(4, 12\)"),
    "intr-dtype": ("visibility_counts", frames_with(1, fake(np.int64, F, 4)),
                   TypeError, "'intr' must be float32, got <i8"),
    "valid-dtype": ("visibility_counts", frames_with(2, FakeCudaArray("|b1", (F,))),
                    TypeError, r"'valid' must be uint8, got \|b1"),
    "frames-count": ("visibility_counts",
                     {"frames": visibility_counts_args()["frames"][:3]}, ValueError,
                     r"'frames' must be a tuple \(cam, intr, valid, depths\) of 4 items, got 3"),
    "frames-not-a-tuple": ("visibility_counts", {"frames": fake(np.float32, F, 12)}, TypeError,
                           "'frames' must be a tuple"),
    "points-shape": ("visibility_counts", {"points": fake(np.float32, N, 4)}, ValueError,
                     r"'points' must have shape \(\*, 3\), got \(11, 4\)"),
    "points-numpy": ("visibility_counts", {"points": np.zeros((N, 3), np.float32)}, TypeError,
                     "'points' must be a CUDA array .* got ndarray"),
    "points-no-interface": ("visibility_counts", {"points": [[0.0, 0.0, 0.0]]}, TypeError,
                            "'points' must be a CUDA array"),
    "offsets-dtype": ("visibility_counts",
                      {"membership": (fake(np.int32, Q + 1), fake(np.int32, NNZ))}, TypeError,
                      "'offsets' must be int64, got <i4"),
    "offsets-empty": ("visibility_counts",
                      {"membership": (fake(np.int64, 0), fake(np.int32, NNZ))}, ValueError,
                      "'offsets' must have Q \\+ 1 >= 1 entries"),
    "bitmaps-words": ("visibility_counts", {"bitmaps": fake(np.int32, 2, WORDS + 1)},
                      ValueError, r"'bitmaps' must have shape \(\*, 2\), got \(2, 3\)"),
    "out-counts-shape": ("visibility_counts", {"out_counts": fake(np.int32, Q, F)},
                         ValueError, r"'out_counts' must have shape \(3, 4\), got \(4, 3\)"),
    "out-pixels-readonly": ("visibility_counts",
                            {"out_pixels": fake(np.int32, F, Q, readonly=True)}, ValueError,
                            "'out_pixels' must be writable"),
    "pairs-counts-shape": ("visibility_counts",
                           {"pairs": fake(np.int64, P, 2), "out_counts": fake(np.int32, F, Q)},
                           ValueError, r"'out_counts' must have shape \(6,\), got \(3, 4\)"),
    "pairs-missing": ("visibility_pixels", {"pairs": None}, ValueError,
                      "visibility_pixels: 'pairs' must be a \\(P, 2\\) int64 CUDA array"),
    "pairs-dtype": ("visibility_pixels", {"pairs": fake(np.int32, P, 2)}, TypeError,
                    "'pairs' must be int64, got <i4"),
    "out-offsets-shape": ("visibility_pixels", {"out_offsets": fake(np.int64, P)}, ValueError,
                          r"'out_offsets' must have shape \(7,\), got \(6,\)"),
    "crops-out-shape": ("mask_crops", {"out_crops": fake(np.int32, P + 1, 4)}, ValueError,
                        r"mask_crops: 'out_crops' must have shape \(6, 4\), got \(7, 4\)"),
    "crops-pixels-dtype": ("mask_crops",
                           {"masks": (fake(np.int64, P + 1), fake(np.int64, 40))},
                           TypeError, "'pixels' must be int32, got <i8"),
    "crops-radius": ("mask_crops", {"radius": -1}, ValueError, "'radius' and 'iterations'"),
    "complete-crops-shape": ("complete_masks", {"crops": fake(np.int32, P, 3)}, ValueError,
                             r"complete_masks: 'crops' must have shape \(\*, 4\), got \(6, 3\)"),
    "complete-offsets-count": ("complete_masks",
                               {"masks": (fake(np.int64, P), fake(np.int32, 40))}, ValueError,
                               r"'offsets' must have shape \(7,\), got \(6,\)"),
    "complete-kernel-dtype": ("complete_masks",
                              {"params": (2, fake(np.int64, 7), 5_000_000, 3, 2)},
                              TypeError, "'kernel' must be int32, got <i8"),
    "complete-kernel-even": ("complete_masks", {"params": (2, fake(np.int32, 6), 5_000_000, 3, 2)},
                             ValueError, "'kernel' must have an odd number of weights"),
    "complete-directions": ("complete_masks",
                            {"params": (2, fake(np.int32, 7), 5_000_000, 9, 2)}, ValueError,
                            r"'directions' must be in \[0, 8\]"),
    "complete-params-count": ("complete_masks", {"params": (2, fake(np.int32, 7))}, ValueError,
                              "'params' must be a tuple"),
    "complete-scratch-size": ("complete_masks",
                              {"scratch": (fake(np.uint8, 123), fake(np.int32, 124),
                                           fake(np.int32, 123))}, ValueError,
                              r"'tmp' must have shape \(123,\), got \(124,\)"),
    "complete-out-dtype": ("complete_masks", {"out": fake(np.int32, 123)}, TypeError,
                           "'out' must be uint8, got <i4"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_argument_is_rejected_naming_it(case):
    function, change, error, message = CASES[case]
    with pytest.raises(error, match=message):
        call(function, **change)


@pytest.mark.parametrize("function", list(ARGS))
def test_well_formed_arguments_reach_the_device_check(function):
    """Arguments that pass every check without a GPU stop at the device check: the fake
    address is not memory of the current CUDA device (or there is no device at all)."""
    with pytest.raises(ValueError, match=rf"{function}: (no CUDA device to run on|'\w+' is not "
                                         "memory of the current CUDA device)"):
        call(function)


def test_host_tensors_are_rejected_as_not_cuda_arrays():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="'points' must be a CUDA array .* got Tensor"):
        call("visibility_counts", points=torch.zeros((N, 3)))


@pytest.mark.skipif(not extensions.cuda_available(), reason="needs a CUDA GPU")
def test_tensors_on_the_gpu_pass_and_host_memory_is_rejected_on_a_gpu():
    import torch

    good = torch.zeros((P, 4), dtype=torch.int32, device="cuda")
    masks = (torch.zeros(P + 1, dtype=torch.int64, device="cuda"),
             torch.zeros(0, dtype=torch.int32, device="cuda"))
    cuda.mask_crops(masks, H, W, 2, 2, good, 0)
    torch.cuda.synchronize()
    assert not good.any()  # every mask is empty: zero crops
    with pytest.raises(ValueError, match="'out_crops' is not memory of the current CUDA device"):
        cuda.mask_crops(masks, H, W, 2, 2, fake(np.int32, P, 4), 0)
