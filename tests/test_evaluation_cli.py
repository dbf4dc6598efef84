"""``folk eval`` end to end, and the submission / GT files it reads."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from folk.errors import FolkError, FolkInputError
from folk.evaluation import InstancePrediction, read_gt, read_submission, write_submission
from folk.evaluation import cli as eval_cli

CHAIR, TABLE = 2, 4
N = 1500


def _gt() -> np.ndarray:
    ids = np.zeros(N, dtype=np.int64)
    ids[0:200] = CHAIR * 1000 + 1
    ids[500:800] = TABLE * 1000 + 1
    return ids


def _prediction() -> InstancePrediction:
    masks = np.zeros((N, 3), dtype=bool)
    masks[0:200, 0] = True  # the chair
    masks[500:800, 1] = True  # the table
    masks[1000:1300, 2] = True  # a chair on void: not a false positive
    return InstancePrediction(masks, [CHAIR, TABLE, CHAIR], [0.25, 0.5, 0.75])


def _write_gt(gt_dir: Path, scene: str, ids: np.ndarray) -> Path:
    gt_dir.mkdir(parents=True, exist_ok=True)
    path = gt_dir / f"{scene}.txt"
    path.write_text("".join(f"{v}\n" for v in ids))
    return path


@pytest.fixture
def dirs(tmp_path):
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    _write_gt(gt_dir, "scene0000_00", _gt())
    write_submission(pred_dir, "scene0000_00", _prediction())
    return gt_dir, pred_dir


def _folk_eval(gt_dir, pred_dir, dataset="scannet200", *flags) -> int:
    """``folk eval ...`` as folk.cli.main runs it (FolkError -> exit status 2, on stdout here)."""
    parser = argparse.ArgumentParser(prog="folk")
    eval_cli.register(parser.add_subparsers(dest="command", required=True))
    argv = ["eval", "--gt", str(gt_dir), "--pred", str(pred_dir), "--dataset", dataset]
    args = parser.parse_args(argv + [str(f) for f in flags])
    try:
        return int(args.func(args) or 0)
    except FolkError as exc:
        print(f"folk {args.command}: error: {exc}")
        return 2


# -- submission files ------------------------------------------------------------------------
def test_submission_round_trips_masks_labels_and_exact_confidences(tmp_path):
    rng = np.random.default_rng()
    pred = InstancePrediction(rng.random((777, 4)) < 0.3, [2, 4, 5, 1191], rng.random(4))
    scene_file = write_submission(tmp_path, "scene0011_00", pred)
    back = read_submission(scene_file, 777)
    np.testing.assert_array_equal(back.masks, pred.masks)
    np.testing.assert_array_equal(back.label_ids, pred.label_ids)
    np.testing.assert_array_equal(back.confidences, pred.confidences)


def test_submission_has_the_scannet_layout(tmp_path):
    write_submission(tmp_path, "scene0011_00", _prediction())
    lines = (tmp_path / "scene0011_00.txt").read_text().splitlines()
    assert lines[0] == "pred_mask/scene0011_00_0.txt 2 0.25"
    mask = (tmp_path / "pred_mask" / "scene0011_00_0.txt").read_text().split("\n")
    assert mask[:2] == ["1", "1"] and mask[200] == "0" and len(mask) == N + 1


def test_submission_without_instances_reads_back_empty(tmp_path):
    scene_file = write_submission(tmp_path, "s", InstancePrediction.empty(N))
    assert scene_file.read_text() == ""
    assert len(read_submission(scene_file, N)) == 0


def test_reader_accepts_integer_labels_written_as_floats_and_any_nonzero_mask(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "a.txt").write_text("0\n2\n-1\n0\n")
    (tmp_path / "s.txt").write_text("m/a.txt 4.0 0.5\n\n")
    pred = read_submission(tmp_path / "s.txt", 4)
    assert pred.masks[:, 0].tolist() == [False, True, True, False]
    assert pred.label_ids.tolist() == [4]


def test_gt_reader_reads_one_integer_per_line(tmp_path):
    path = _write_gt(tmp_path, "s", _gt())
    np.testing.assert_array_equal(read_gt(path), _gt())


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("pred_mask/s_0.txt 2", "expected '<relative mask path> <label id> <confidence>'"),
        ("pred_mask/s_0.txt chair 0.5", "must be numbers"),
        ("pred_mask/s_0.txt 2.5 0.5", "label id must be an integer"),
        ("pred_mask/s_0.txt 2 nan", "confidence must be finite"),
        ("/abs/pred_mask/s_0.txt 2 0.5", "must be relative"),
        ("../outside.txt 2 0.5", "points outside"),
        ("pred_mask/missing.txt 2 0.5", "does not exist"),
        ("pred_mask/s_0.txt 2 0.5\npred_mask/s_0.txt 4 0.5", "listed twice"),
    ],
)
def test_malformed_prediction_line_is_an_error_naming_the_file(tmp_path, line, message):
    write_submission(tmp_path / "pred", "s", _prediction())
    scene_file = tmp_path / "pred" / "s.txt"
    scene_file.write_text(line + "\n")
    with pytest.raises(FolkInputError, match=message) as info:
        read_submission(scene_file, N)
    assert info.value.path is not None


def test_malformed_mask_file_is_an_error_naming_its_line(tmp_path):
    write_submission(tmp_path, "s", _prediction())
    (tmp_path / "pred_mask" / "s_1.txt").write_text("0\n1\nyes\n")
    with pytest.raises(FolkInputError, match="line 3 is 'yes'") as info:
        read_submission(tmp_path / "s.txt")
    assert info.value.path.name == "s_1.txt"


def test_mask_of_the_wrong_length_is_an_error_naming_the_mask(tmp_path):
    write_submission(tmp_path, "s", _prediction())
    with pytest.raises(
        FolkInputError, match=f"{N} values but the ground truth has {N + 1}"
    ) as info:
        read_submission(tmp_path / "s.txt", N + 1)
    assert info.value.path.name == "s_0.txt"


def test_malformed_gt_file_is_an_error(tmp_path):
    (tmp_path / "s.txt").write_text("2001\n2001 2001\n")
    with pytest.raises(FolkInputError, match="one integer per line"):
        read_gt(tmp_path / "s.txt")


# -- the command -----------------------------------------------------------------------------
def test_cli_prints_a_table_and_writes_json(dirs, tmp_path, capsys):
    gt_dir, pred_dir = dirs
    out = tmp_path / "out" / "result.json"
    assert _folk_eval(gt_dir, pred_dir, "scannet200", "--json", out) == 0
    text = capsys.readouterr().out
    assert "all" in text and "head" in text and "100.0" in text
    result = json.loads(out.read_text())
    for key in ("ap", "ap50", "ap25", "head_ap", "common_ap", "tail_ap", "classes"):
        assert key in result
    assert result["ap"] == 1.0 and result["num_scenes"] == 1
    assert result["classes"]["table"]["ap"] == 1.0


def test_cli_confidence_one_changes_the_result(tmp_path):
    # chair TP at 0.1 and a chair FP (on the table) at 0.9: AP 1/4 as given, 3/4 all tied
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    _write_gt(gt_dir, "s", _gt())
    masks = np.zeros((N, 2), dtype=bool)
    masks[0:200, 0] = True
    masks[500:800, 1] = True
    write_submission(pred_dir, "s", InstancePrediction(masks, [CHAIR, CHAIR], [0.1, 0.9]))
    aps = []
    for flags in ([], ["--confidence-one"]):
        out = tmp_path / f"r{len(flags)}.json"
        assert _folk_eval(gt_dir, pred_dir, "scannet200", "--json", out, *flags) == 0
        aps.append(json.loads(out.read_text())["classes"]["chair"]["ap"])
    assert aps == pytest.approx([0.25, 0.75])


def test_cli_on_replica_writes_null_splits(tmp_path, capsys):
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    ids = np.zeros(N, dtype=np.int64)
    ids[:300] = 3 * 1000 + 1  # basket
    _write_gt(gt_dir, "room0", ids)
    masks = np.zeros((N, 1), dtype=bool)
    masks[:300, 0] = True
    write_submission(pred_dir, "room0", InstancePrediction(masks, [3], [0.5]))
    out = tmp_path / "r.json"
    assert _folk_eval(gt_dir, pred_dir, "replica", "--json", out) == 0
    result = json.loads(out.read_text())
    assert result["ap"] == 1.0
    assert result["head_ap"] is None and result["common_ap"] is None and result["tail_ap"] is None
    assert "head" not in capsys.readouterr().out


def test_cli_counts_gt_scene_without_prediction_file_as_empty_and_warns(dirs, tmp_path, capsys):
    gt_dir, pred_dir = dirs
    _write_gt(gt_dir, "scene0001_00", _gt())
    out = tmp_path / "r.json"
    assert _folk_eval(gt_dir, pred_dir, "scannet200", "--json", out) == 0
    assert "scene0001_00" in capsys.readouterr().err
    result = json.loads(out.read_text())
    assert result["missing_scenes"] == ["scene0001_00"]
    assert result["ap"] == pytest.approx(0.5)


def test_cli_rejects_predicted_scene_without_gt(dirs, capsys):
    gt_dir, pred_dir = dirs
    write_submission(pred_dir, "scene0999_00", _prediction())
    assert _folk_eval(gt_dir, pred_dir) == 2
    assert "have no ground truth" in capsys.readouterr().out


def test_cli_rejects_mask_of_wrong_length_naming_the_mask(dirs, capsys):
    gt_dir, pred_dir = dirs
    _write_gt(gt_dir, "scene0000_00", np.r_[_gt(), 0])
    assert _folk_eval(gt_dir, pred_dir) == 2
    assert "scene0000_00_0.txt" in capsys.readouterr().out


def test_cli_rejects_unknown_label_ids(dirs, capsys):
    gt_dir, pred_dir = dirs
    scene_file = pred_dir / "scene0000_00.txt"
    scene_file.write_text(scene_file.read_text().replace(" 4 ", " 12 "))
    assert _folk_eval(gt_dir, pred_dir) == 2
    assert "unknown scannet200 label ids [12]" in capsys.readouterr().out


@pytest.mark.parametrize("which", ["gt", "pred"])
def test_cli_rejects_empty_or_missing_directories(dirs, tmp_path, capsys, which):
    empty = tmp_path / "empty"
    empty.mkdir()
    for bad, message in ((empty, "holds no <scene>.txt"), (tmp_path / "nope", "does not exist")):
        gt_dir, pred_dir = dirs
        if which == "gt":
            gt_dir = bad
        else:
            pred_dir = bad
        assert _folk_eval(gt_dir, pred_dir) == 2
        assert message in capsys.readouterr().out


def test_eval_is_registered_with_the_folk_command():
    from folk import cli

    assert cli.COMMANDS["eval"] == "folk.evaluation.cli"
    args = cli.build_parser().parse_args(["eval", "--gt", "g", "--pred", "p", "--dataset", "replica"])
    assert args.func is eval_cli.run and args.confidence_one is False
