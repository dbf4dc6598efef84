"""``folk view``: the live query scoring (without a browser), and the viewer itself in headless
Chromium: the page opens, a phrase typed in its text box highlights the matching instance."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from browser import Browser, find_chromium
from distill_toy import CLASSES, make_toy

from folk.cli import main
from folk.data.ply import write_ply
from folk.errors import FolkInputError
from folk.show.live_query import (
    PhraseEncoder,
    best_matches,
    query_point_colors,
    similarities,
    view_instances,
)
from folk.show.scene_ply import SIMILARITY_RAMP

#: The ramp's warm end: the colour of the best match's points.
HIGHLIGHT = SIMILARITY_RAMP[-1]


# ---- scoring, no browser ---------------------------------------------------------------------

def _three_instances():
    points = np.array([[0, 0, 0], [2, 0, 0], [0, 4, 0], [9, 9, 9]], np.float32)
    masks = np.zeros((4, 3), bool)
    masks[0, 0] = masks[1, 1] = masks[2, 2] = True
    embeddings = np.array([[2, 0], [0, 3], [1, 1]], np.float32)
    return view_instances(points, masks, embeddings, np.array([0.9, 0.8, 0.7]),
                          ("chair", "table", "lamp"))


def test_query_scores_are_cosines_and_the_best_match_takes_the_warm_end_of_the_ramp():
    inst = _three_instances()
    sim = similarities(inst, np.array([0.0, 5.0]))
    np.testing.assert_allclose(sim, [0.0, 1.0, np.sqrt(0.5)], atol=1e-6)
    assert best_matches(sim).tolist() == [1, 2, 0]
    background = np.full((4, 3), 100, np.uint8)
    colors = query_point_colors(inst, sim, background)
    assert colors[1].tolist() == HIGHLIGHT.tolist()  # table's point
    assert colors[0].tolist() == SIMILARITY_RAMP[0].tolist()  # the worst match: cold end
    assert colors[3].tolist() == [100, 100, 100]  # no instance: background
    np.testing.assert_allclose(inst.centers[2], [0, 4, 0])
    with pytest.raises(FolkInputError, match="3 dims"):
        similarities(inst, np.ones(3))


def test_phrase_encoder_uses_the_checkpoints_embeddings_and_embeds_each_phrase_once(
        toy_checkpoint, monkeypatch):
    from folk.data.vocabulary import load_text_embeddings

    encoder = PhraseEncoder(toy_checkpoint / "ckpt", meta={})
    saved = load_text_embeddings(toy_checkpoint / "ckpt" / "text_embeddings.npz")
    np.testing.assert_allclose(encoder("lamp"), saved.select(["lamp"])[0])
    with pytest.raises(FolkInputError, match="no text embeddings"):
        encoder("a red sofa")  # not in the file, and the checkpoint records no CLIP
    calls = []
    monkeypatch.setattr(PhraseEncoder, "_embed", lambda self, p: calls.append(p) or np.ones(2))
    encoder("a red sofa")
    encoder(" a red sofa ")
    assert calls == ["a red sofa"]


def test_loaded_scene_names_instances_by_prediction_and_colours_gt_matches_alike():
    import torch

    from folk.data.scene import GroundTruth, PointFeatures, Proposals
    from folk.predict.instances import InstancePrediction
    from folk.show.scene_outputs import class_names
    from folk.show.scene_picture import ScenePoints
    from folk.show.view_scene import load_view_scene
    from folk.student import VLAdapter

    adapter = VLAdapter(2, 2, 2, activation="relu")
    with torch.no_grad():
        for layer in (adapter.mlp[0], adapter.mlp[2]):
            layer.weight.copy_(torch.eye(2))
            layer.bias.zero_()
    points = np.arange(18, dtype=np.float32).reshape(6, 3)
    masks = np.zeros((6, 2), bool)
    masks[0:3, 0] = masks[3:5, 1] = True  # point 5: no instance
    features = PointFeatures(np.array([[1, 0]] * 3 + [[0, 1]] * 3, np.float32))
    names = class_names("scannet200")
    chair, table = 2, 4  # ScanNet200 label ids
    pred = InstancePrediction(masks[:, [1]], np.array([table]), np.array([0.9]))
    gt = GroundTruth(np.array([chair * 1000 + 1] * 3 + [0] * 3))
    view = load_view_scene(ScenePoints("s", points, np.full((6, 3), 128, np.uint8)), features,
                           Proposals(masks, np.array([0.8, 0.9], np.float32)), adapter.eval(),
                           0.5, names, pred, gt)
    assert view.instances.names == ("table", "#0")  # by score; #0 has no prediction
    assert view.gt_names == ("chair",)
    assert (view.gt_colors[0] == view.pred_colors[0]).all()  # proposal 0 matches GT chair
    assert (view.pred_colors[5] == view.background[5]).all()
    np.testing.assert_allclose(similarities(view.instances, np.array([0.0, 1.0])), [1, 0])


def test_a_query_after_the_first_takes_under_100_ms_on_a_scannet_size_scene():
    rng = np.random.default_rng(0)
    n, k, d = 150_000, 120, 768
    points = rng.uniform(0, 8, size=(n, 3)).astype(np.float32)
    masks = np.zeros((n, k), bool)
    masks[np.arange(n), rng.integers(k, size=n)] = True
    inst = view_instances(points, masks, rng.normal(size=(k, d)), rng.uniform(size=k),
                          tuple(f"#{i}" for i in range(k)))
    background = np.full((n, 3), 100, np.uint8)
    text = rng.normal(size=d)
    query_point_colors(inst, similarities(inst, text), background)
    start = time.perf_counter()
    sim = similarities(inst, text)
    query_point_colors(inst, sim, background)
    best_matches(sim)
    assert time.perf_counter() - start < 0.1


# ---- the viewer in headless Chromium ---------------------------------------------------------

@pytest.fixture(scope="module")
def toy_checkpoint(tmp_path_factory):
    """The toy problem distilled, and a scan ``scans/v.ply`` whose proposal q is a small
    cluster of points at grid cell (q mod 5, q div 5)."""
    root = tmp_path_factory.mktemp("view")
    info = make_toy(root, ["a", "v"])
    rng = np.random.default_rng(4)
    n = 10 * 20 + 7
    points = np.zeros((n, 3))
    for q in range(10):
        points[20 * q:20 * q + 20] = rng.uniform(size=(20, 3)) * 0.3 + [q % 5, q // 5, 0]
    points[-7:] = rng.uniform(size=(7, 3)) * 4
    (root / "scans").mkdir()
    write_ply(root / "scans" / "v.ply", points, np.full((n, 3), 128, np.uint8))
    assert main(["distill", "--targets", str(root / "targets"), "--features",
                 str(root / "features"), "--proposals", str(root / "proposals"),
                 "--scenes-val", "v", "--out", str(root / "ckpt"), "--epochs", "10",
                 "--batch-proposals", "8", "--hidden", "32", "--quiet", "--device", "cpu"]) == 0
    (root / "classes").write_text(",".join(CLASSES[c] for c in info["classes"]["v"]))
    return root


#: JavaScript: the centre of the text box labelled "query" (the input next to that label), or
#: null while the page has not drawn it.
QUERY_BOX = """(() => {
  const label = Array.from(document.querySelectorAll("label"))
    .find(l => l.textContent.trim() === "query");
  let box = label;
  for (let i = 0; box && i < 5 && !box.querySelector("input"); i++) box = box.parentElement;
  const input = box && box.querySelector("input");
  if (!input) return null;
  const r = input.getBoundingClientRect();
  return r.width > 0 ? [r.x + r.width / 2, r.y + r.height / 2] : null;
})()"""


#: JavaScript: whether the focused element is that text box.
FOCUSED_IS_QUERY_BOX = QUERY_BOX.replace("return r.width > 0 ? [r.x + r.width / 2, r.y + "
                                         "r.height / 2] : null;",
                                         "return document.activeElement === input;")


def _highlight_pixels(image: np.ndarray) -> int:
    """Pixels of the highlight colour in the 3D view, left of the GUI panel and right of the
    axes gizmo (whose x axis is red too)."""
    scene = image[:, 80:650].astype(int)
    return int((np.abs(scene - HIGHLIGHT).max(axis=2) <= 24).sum())


@pytest.fixture
def served(toy_checkpoint):
    """``folk view`` on the toy scene in a subprocess; yields its URL."""
    root = toy_checkpoint
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "folk.cli", "view", "--scan", str(root / "scans" / "v.ply"),
         "--features", str(root / "features"), "--proposals", str(root / "proposals"),
         "--checkpoint", str(root / "ckpt"), "--port", "8437"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = process.stdout.readline().strip()
        if not url.startswith("http://"):
            process.kill()
            pytest.fail(f"folk view printed no URL: {url!r} {process.stderr.read()}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.skipif(find_chromium() is None,
                    reason="needs Debian's chromium (scripts/setup.sh installs it)")
def test_typing_a_query_in_the_browser_highlights_the_best_match(served, tmp_path):
    browser = Browser(tmp_path / "profile")
    try:
        browser.send("Page.navigate", url=served)
        browser.wait_for(QUERY_BOX)
        time.sleep(2)  # the panel has settled, the point cloud is drawn
        before = browser.screenshot(tmp_path / "before.png")
        browser.click(*browser.evaluate(QUERY_BOX))
        assert browser.evaluate(FOCUSED_IS_QUERY_BOX), "the click did not focus the text box"
        browser.type_text("chair")
        browser.wait_for("document.body.innerText.includes('instances scored')")
        time.sleep(2)  # the new colours are drawn
        after = browser.screenshot(tmp_path / "after.png")
        shots = os.environ.get("FOLK_VIEW_SCREENSHOTS")
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            for name in ("before.png", "after.png"):
                (Path(shots) / name).write_bytes((tmp_path / name).read_bytes())
        text = browser.evaluate("document.body.innerText")
    finally:
        browser.close()
    assert _highlight_pixels(before) == 0
    assert _highlight_pixels(after) > 500, "no point took the highlight colour"
    assert "chair" in text and "1. " in text  # the ranked matches in the legend


def test_view_refuses_a_missing_scan_and_a_scan_of_another_size_in_one_line(
        toy_checkpoint, tmp_path, capsys):
    root = toy_checkpoint
    common = ["--features", str(root / "features"), "--proposals", str(root / "proposals"),
              "--checkpoint", str(root / "ckpt")]
    assert main(["view", "--scan", str(tmp_path / "nope.ply"), *common]) == 2
    assert "--scan: not found" in capsys.readouterr().err
    write_ply(tmp_path / "v.ply", np.zeros((5, 3)), np.zeros((5, 3), np.uint8))
    assert main(["view", "--scan", str(tmp_path / "v.ply"), *common]) == 2
    err = capsys.readouterr().err
    assert "the scan has 5 points" in err and "Traceback" not in err


def test_a_phrase_the_small_clip_never_saw_is_flagged_in_the_status_line(toy_checkpoint):
    import warnings

    from folk.clip import DEFAULT_MODEL
    from folk.errors import UntrainedWordWarning
    from folk.predict.vocabulary import ClipChoice
    from folk.show.scene_picture import ScenePoints
    from folk.show.view_scene import ViewScene
    from folk.show.viewer import Viewer

    encoder = PhraseEncoder(toy_checkpoint / "ckpt", meta={}, clip=ClipChoice(DEFAULT_MODEL))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encoder("chair")  # a word the small CLIP was trained on
        assert not caught and encoder.caution("chair") is None
        encoder("grand piano")
    [warning] = caught
    assert warning.category is UntrainedWordWarning
    assert "never saw 'grand piano'" in encoder.caution(" grand piano ")
    points = np.array([[0, 0, 0], [2, 0, 0], [0, 4, 0], [9, 9, 9]], np.float32)
    masks = np.eye(4, 3, dtype=bool)
    embeddings = np.random.default_rng(1).normal(size=(3, encoder("chair").shape[0]))
    grey = np.full((4, 3), 128, np.uint8)
    view = ViewScene(ScenePoints("s", points, grey),
                     view_instances(points, masks, embeddings, np.ones(3), ("a", "b", "c")),
                     grey, grey)
    viewer = Viewer(view, encoder, port=8463)
    try:
        viewer.show_query("grand piano")
        assert "**warning:** folk-small-clip was trained on" in viewer.status.content
        viewer.show_query("chair")
        assert "warning" not in viewer.status.content
    finally:
        viewer.server.stop()
