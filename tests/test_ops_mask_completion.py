"""Density-guided mask completion (folk.ops.mask_completion) against the NumPy reference,
bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from devices import DEVICES, host, poison_allocator, to_device

from folk.errors import FolkExtensionError, FolkInputError
from folk.ops import extensions, reference
from folk.ops.mask_completion import (
    DEFAULT_DIRECTIONS,
    DEFAULT_GAUSSIAN_SIZE,
    DEFAULT_ITERATIONS,
    DEFAULT_RADIUS,
    DEFAULT_TAU,
    DIRECTIONS,
    KERNEL_SUM,
    complete_masks,
    density_threshold,
    gaussian_weights,
)
from folk.ops.visibility import PixelLists

DEFAULTS = {"radius": DEFAULT_RADIUS, "gaussian_size": DEFAULT_GAUSSIAN_SIZE, "tau": DEFAULT_TAU,
            "directions": DEFAULT_DIRECTIONS, "iterations": DEFAULT_ITERATIONS}
PARAMS = [
    DEFAULTS,
    {"radius": 1, "gaussian_size": 3, "tau": 0.1, "directions": 8, "iterations": 3},
    {"radius": 3, "gaussian_size": 5, "tau": 0.5, "directions": 1, "iterations": 1},
    {"radius": 2, "gaussian_size": 9, "tau": 0.2, "directions": 0, "iterations": 2},
    {"radius": 1, "gaussian_size": 7, "tau": 0.3, "directions": 3, "iterations": 0},
    {"radius": 0, "gaussian_size": 1, "tau": 0.0, "directions": 2, "iterations": 2},
]


def random_masks(seed: int, h: int, w: int, count: int) -> list[np.ndarray]:
    """Sparse masks like projected point sets: scattered pixels around random blobs, some at
    the image border, one empty, one single pixel, one with duplicated ids."""
    rng = np.random.default_rng(seed)
    masks = []
    for i in range(count):
        kind = i % 6
        if kind == 0:
            masks.append(np.zeros(0, np.int64))
            continue
        if kind == 1:
            masks.append(rng.integers(0, h * w, size=1))
            continue
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        if kind == 2:  # hugging a corner
            cx, cy = rng.choice([0, w - 1]), rng.choice([0, h - 1])
        n = int(rng.integers(1, max(2, h * w // 6)))
        spread = rng.uniform(1.0, max(1.5, min(h, w) / 3))
        xs = np.clip(np.round(rng.normal(cx, spread, n)), 0, w - 1).astype(np.int64)
        ys = np.clip(np.round(rng.normal(cy, spread * rng.uniform(0.5, 2), n)), 0, h - 1)
        keep = rng.random(n) < rng.uniform(0.2, 0.9)  # holes, like real projections
        ids = ys.astype(np.int64)[keep] * w + xs[keep]
        if kind == 5 and ids.size:
            ids = np.concatenate([ids, ids[: ids.size // 2]])
            rng.shuffle(ids)
        masks.append(ids)
    return masks


def run(device, lists, h, w, **params):
    masks = PixelLists.from_lists(lists, h, w)
    offsets, pixels = to_device(device, masks.offsets, masks.pixels)
    out = complete_masks(PixelLists(offsets, pixels, h, w), **params)
    return PixelLists(host(out.offsets), host(out.pixels), out.height, out.width)


def dense(ids, h, w) -> np.ndarray:
    image = np.zeros(h * w, dtype=bool)
    image[np.asarray(ids, dtype=np.int64)] = True
    return image.reshape(h, w)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", [(23, 37), (1, 1), (5, 64), (48, 31)],
                         ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("params", PARAMS, ids=lambda p: "r{radius}-s{gaussian_size}-"
                         "t{tau}-m{directions}-T{iterations}".format(**p))
@pytest.mark.parametrize("seed", [0, 1])
def test_complete_masks_match_reference(device, size, params, seed):
    h, w = size
    lists = random_masks(seed * 7 + h, h, w, 7)
    out = run(device, lists, h, w, **params)
    assert len(out) == len(lists) and (out.height, out.width) == (h, w)
    assert out.pixels.dtype == np.int32 and out.offsets.dtype == np.int64
    for k, ids in enumerate(lists):
        want = reference.complete_mask(dense(ids, h, w), **params)
        got = out[k]
        assert (np.diff(got) > 0).all(), "pixel ids must be ascending and distinct"
        np.testing.assert_array_equal(dense(got, h, w), want)


def test_completion_grows_masks_without_filling_the_image():
    """The random masks must exercise growth (else the agreement test proves little)."""
    h, w = 48, 31
    lists = random_masks(3, h, w, 12)
    out = run("cpu", lists, h, w, **DEFAULTS)
    dilated = [reference.dilate(dense(ids, h, w), DEFAULT_RADIUS).sum() for ids in lists]
    grown = np.asarray(out.sizes) > np.asarray(dilated)
    assert grown.any() and (np.asarray(out.sizes) < h * w).any()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_density_separable_equals_direct(seed):
    rng = np.random.default_rng(seed)
    mask = rng.random((19, 26)) < 0.4
    for s in (1, 3, 7):
        np.testing.assert_array_equal(reference.density_fixed(mask, s),
                                      reference.density_fixed_direct(mask, s))


@pytest.mark.parametrize("size", [1, 3, 5, 7, 9, 15, 31])
def test_gaussian_weights_are_symmetric_and_sum_to_the_fixed_point_one(size):
    g = gaussian_weights(size)
    assert g.dtype == np.int32 and g.sum() == KERNEL_SUM
    np.testing.assert_array_equal(g, g[::-1])
    assert (np.diff(g[: size // 2 + 1]) >= 0).all()  # rises to the centre
    assert int(g.astype(np.int64).sum()) ** 2 < 2**31  # the 2-D density fits in int32


def test_density_threshold_is_strict():
    # A full 2-D neighbourhood has rho = 1 exactly: a seed for every tau < 1, none at tau = 1.
    assert density_threshold(1.0) == KERNEL_SUM**2
    assert density_threshold(0.5) == KERNEL_SUM**2 // 2
    assert density_threshold(0.0) == 0
    mask = np.zeros((9, 9), bool)
    mask[2:7, 2:7] = True
    rho = reference.density_fixed(mask, 3)
    assert rho[4, 4] == KERNEL_SUM**2


@pytest.mark.parametrize("device", DEVICES)
def test_zero_iterations_is_the_square_dilation(device):
    lists = [np.array([0, 3 * 10 + 4])]
    out = run(device, lists, 8, 10, radius=1, gaussian_size=3, tau=0.3, directions=3,
              iterations=0)
    want = np.zeros((8, 10), bool)
    want[0:2, 0:2] = True
    want[2:5, 3:6] = True
    np.testing.assert_array_equal(dense(out[0], 8, 10), want)


@pytest.mark.parametrize("device", DEVICES)
def test_growth_follows_the_denser_direction(device):
    # A dense 5x5 block at the left and a dense column further right: seeds on the block's
    # right edge see higher density towards the column (E), never towards empty space.
    h, w = 15, 25
    sparse = np.zeros((h, w), bool)
    sparse[5:10, 2:7] = True
    sparse[5:10, 10] = True
    got = reference.complete_mask(sparse, radius=2, gaussian_size=5, tau=0.3, directions=1,
                                  iterations=1)
    dilated = reference.dilate(sparse, 2)
    assert got[7, 4:13].all() and dilated.sum() <= got.sum()
    out = run(device, [np.flatnonzero(sparse.ravel())], h, w, radius=2, gaussian_size=5,
              tau=0.3, directions=1, iterations=1)
    np.testing.assert_array_equal(dense(out[0], h, w), got)


@pytest.mark.parametrize("device", DEVICES)
def test_batch_equals_one_mask_at_a_time_and_ignores_order_and_duplicates(device):
    h, w = 41, 29
    lists = random_masks(11, h, w, 9)
    batch = run(device, lists, h, w, **DEFAULTS)
    rng = np.random.default_rng(0)
    for k, ids in enumerate(lists):
        shuffled = np.concatenate([ids, ids])
        rng.shuffle(shuffled)
        alone = run(device, [shuffled], h, w, **DEFAULTS)
        np.testing.assert_array_equal(alone[0], batch[k])


@pytest.mark.parametrize("device", DEVICES)
def test_empty_masks_and_empty_batches(device):
    out = run(device, [], 7, 9, **DEFAULTS)
    assert len(out) == 0 and out.pixels.size == 0
    out = run(device, [np.zeros(0, int), np.array([5]), np.zeros(0, int)], 7, 9, **DEFAULTS)
    assert out[0].size == 0 and out[2].size == 0 and out[1].size > 0


@pytest.mark.parametrize("device", DEVICES)
def test_results_are_the_same_over_poisoned_memory(device):
    h, w = 37, 23
    lists = random_masks(13, h, w, 6)
    first = run(device, lists, h, w, **DEFAULTS)
    for _ in range(3):
        poison_allocator(device, 1 << 20)
        again = run(device, lists, h, w, **DEFAULTS)
        np.testing.assert_array_equal(again.offsets, first.offsets)
        np.testing.assert_array_equal(again.pixels, first.pixels)


def test_torch_cpu_inputs_give_torch_outputs():
    torch = pytest.importorskip("torch")
    lists = random_masks(17, 20, 30, 5)
    masks = PixelLists.from_lists(lists, 20, 30)
    out = complete_masks(PixelLists(torch.from_numpy(masks.offsets),
                                    torch.from_numpy(masks.pixels), 20, 30))
    assert isinstance(out.pixels, torch.Tensor)
    want = complete_masks(masks)
    np.testing.assert_array_equal(out.pixels.numpy(), want.pixels)


def test_pixel_lists_dense_round_trip():
    rng = np.random.default_rng(0)
    images = rng.random((4, 9, 13)) < 0.2
    lists = PixelLists.from_dense(images)
    for k in range(4):
        np.testing.assert_array_equal(lists.to_dense(k), images[k])


# ---- the per-pixel steps the C++ and CUDA kernels share (folk._C._testing) ---------------


def shared_steps():
    """completion.h's steps, the code both kernels run, one at a time."""
    return extensions.cpu_extension()._testing


def top_positive_directions(gains, m: int) -> int:
    """The selection rule as stated: the top-``m`` positive gains, larger first, equal gains in
    DIRECTIONS order; bit ``k`` set for direction ``k``."""
    order = sorted(range(len(DIRECTIONS)), key=lambda k: (-gains[k], k))
    return sum(1 << k for k in order[:m] if gains[k] > 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shared_direction_selection_follows_the_tie_breaking_rule(seed):
    rng = np.random.default_rng(seed)
    for _ in range(400):
        gains = rng.integers(-3, 4, size=len(DIRECTIONS))  # many ties and non-positive gains
        m = int(rng.integers(0, len(DIRECTIONS) + 1))
        got = shared_steps().select_directions(gains.tolist(), m)
        assert got == top_positive_directions(gains, m), (gains, m)


@pytest.mark.parametrize("size", [(1, 1), (7, 13), (30, 17)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("radius", [0, 1, 3])
def test_shared_dilation_matches_reference(size, radius):
    rng = np.random.default_rng(sum(size) + radius)
    image = rng.random(size) < 0.1
    got = shared_steps().dilate(image.astype(np.uint8), radius)
    np.testing.assert_array_equal(got.astype(bool), reference.dilate(image, radius))


@pytest.mark.parametrize("size", [(1, 1), (9, 14), (26, 19)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("gaussian_size", [1, 3, 7, 9])
def test_shared_density_matches_reference(size, gaussian_size):
    rng = np.random.default_rng(sum(size) * gaussian_size)
    mask = rng.random(size) < rng.uniform(0.2, 0.8)
    got = shared_steps().density(mask.astype(np.uint8), gaussian_weights(gaussian_size))
    np.testing.assert_array_equal(got, reference.density_fixed(mask, gaussian_size))


@pytest.mark.parametrize("params", PARAMS, ids=lambda p: "r{radius}-s{gaussian_size}-"
                         "t{tau}-m{directions}".format(**p))
@pytest.mark.parametrize("seed", [0, 1])
def test_shared_growth_step_matches_one_reference_iteration(params, seed):
    h, w = 29, 41
    steps = shared_steps()
    r, s = params["radius"], params["gaussian_size"]
    for ids in random_masks(seed + 40, h, w, 8):
        sparse = dense(ids, h, w)
        coarse = steps.dilate(sparse.astype(np.uint8), r)
        rho = steps.density(coarse, gaussian_weights(s))
        got = steps.grow(coarse, rho, r, density_threshold(params["tau"]), params["directions"])
        want = reference.complete_mask(sparse, r, s, params["tau"], params["directions"], 1)
        np.testing.assert_array_equal(got.astype(bool), want)


@pytest.mark.parametrize("seed", [0, 1])
def test_shared_crops_pad_the_bounding_box_and_contain_the_result(seed):
    """Each mask's crop is its bounding box padded by r + 2rT (dilation reaches r, each
    iteration's fills 2r further), clipped to the image; the completed mask never leaves it."""
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(1, 60, size=2))
    lists = random_masks(seed + 50, h, w, 12)
    masks = PixelLists.from_lists(lists, h, w)
    for params in PARAMS:
        r, t = params["radius"], params["iterations"]
        crops = shared_steps().mask_crops(masks.offsets, masks.pixels, h, w, r, t)
        assert crops.shape == (len(lists), 4) and crops.dtype == np.int32
        margin = r * (1 + 2 * t)
        for k, ids in enumerate(lists):
            if ids.size == 0:
                assert not crops[k].any()
                continue
            xs, ys = ids % w, ids // w
            x0, y0 = max(0, xs.min() - margin), max(0, ys.min() - margin)
            x1, y1 = min(w - 1, xs.max() + margin), min(h - 1, ys.max() + margin)
            assert tuple(crops[k]) == (x0, y0, x1 - x0 + 1, y1 - y0 + 1)
            outside = np.ones((h, w), bool)
            outside[y0:y1 + 1, x0:x1 + 1] = False
            assert not (reference.complete_mask(dense(ids, h, w), **params) & outside).any()


@pytest.mark.skipif(extensions.cuda_available(), reason="a GPU is visible here")
def test_asking_for_cuda_without_a_gpu_raises_extension_error():
    masks = PixelLists.from_lists([np.array([1, 2])], 4, 4)
    with pytest.raises(FolkExtensionError):
        complete_masks(masks, device="cuda")


@pytest.mark.parametrize("change,message", [
    ({"gaussian_size": 6}, "gaussian_size must be a positive odd"),
    ({"tau": 1.5}, "tau must be a density"),
    ({"tau": float("nan")}, "tau must be a density"),
    ({"directions": 9}, "directions must be at most 8"),
    ({"radius": -1}, "radius must be an integer"),
    ({"iterations": 1.5}, "iterations must be an integer"),
])
def test_bad_parameters_are_rejected(change, message):
    masks = PixelLists.from_lists([np.array([1, 2])], 4, 4)
    with pytest.raises(FolkInputError, match=message):
        complete_masks(masks, **{**DEFAULTS, **change})


def test_bad_masks_are_rejected():
    good = PixelLists.from_lists([np.array([1, 2]), np.array([3])], 4, 4)
    cases = [
        (PixelLists(good.offsets, np.array([1, 2, 16], np.int32), 4, 4), "pixels must be flat"),
        (PixelLists(good.offsets, np.array([1, -2, 3], np.int32), 4, 4), "pixels must be flat"),
        (PixelLists(good.offsets[:-1], good.pixels, 4, 4), "offsets must start"),
        (PixelLists(good.offsets, good.pixels.astype(np.int64), 4, 4), "pixels must be int32"),
        (PixelLists(good.offsets, good.pixels, 0, 4), "image size"),
        ([np.array([1])], "masks must be PixelLists"),
    ]
    for masks, message in cases:
        with pytest.raises(FolkInputError, match=message):
            complete_masks(masks)


def test_config_defaults_are_the_op_defaults():
    from folk.teacher.config import MaskCompletionConfig

    cfg = MaskCompletionConfig()
    assert cfg.kwargs() == DEFAULTS
    with pytest.raises(FolkInputError):
        MaskCompletionConfig(gaussian_size=4)
