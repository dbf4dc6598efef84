"""``folk query``: rank a scene's instances by similarity to free text (image-free); a thin
wrapper over :func:`folk.predict.query.rank_instances`."""

from __future__ import annotations

from pathlib import Path

from folk.cli_args import (
    add_command,
    add_scene_inputs,
    add_student,
    check_output_file,
    non_empty_text,
    positive_int,
)
from folk.errors import FolkInputError


def register(subparsers) -> None:
    q = add_command(
        subparsers, "query", run, help="rank a scene's instances by similarity to free text",
        description="Rank the instances of one scene by cosine similarity between the student "
                    "embedding and the text's embedding (CLIP's text encoder, or an embeddings "
                    "file that holds the text as one of its names).")
    q.add_argument("text", type=non_empty_text, help="the query, e.g. 'office chair'")
    q.add_argument("--scene", required=True,
                   help="scene name, as in <scene>.npy under --features and --proposals")
    add_scene_inputs(q)
    add_student(q)
    q.add_argument("--top", type=positive_int, default=10, help="how many to list (default 10)")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.add_argument("--ply", type=Path, default=None,
                   help="also write the scene's points coloured by their instance's similarity "
                        "to the query (grey: no instance) to this .ply file; needs --scans")


def run(args) -> int:
    import json

    from folk.predict.cli import check_feature_width, load_student, text_embeddings_from_args
    from folk.predict.query import rank_instances

    if args.ply is not None:
        if args.scans is None:
            raise FolkInputError("--ply needs --scans (the scene's points)")
        check_output_file(args.ply, "--ply", inputs=[args.features, args.proposals, args.scans])
    inputs, adapter, meta = load_student(args)
    text, _ = text_embeddings_from_args(args, [args.text], meta)
    features, proposals = inputs.load(args.scene)
    check_feature_width(args, args.scene, features, adapter)
    result = rank_instances(features, proposals, adapter, text[0], args.nms_iou)
    k = len(result.similarity) if args.top is None else min(args.top, len(result.similarity))
    rows = [{"rank": r + 1, "proposal": int(result.proposal_index[r]),
             "similarity": float(result.similarity[r]), "points": int(result.num_points[r]),
             "score": float(result.scores[r])} for r in range(k)]
    if args.ply is not None:
        from folk.show.scene_ply import write_similarity_ply

        scan = inputs.scan(args.scene)
        write_similarity_ply(args.ply, scan.points, scan.colors,
                             proposals.masks[:, result.proposal_index], result.similarity,
                             scan.normals)
    if args.json:
        ply = {} if args.ply is None else {"ply": str(args.ply)}
        print(json.dumps({"scene": args.scene, "query": args.text, "instances": rows, **ply},
                         indent=2))
    else:
        print(f"{'rank':>4}  {'proposal':>8}  {'similarity':>10}  {'points':>7}  {'score':>6}")
        for row in rows:
            print(f"{row['rank']:>4}  {row['proposal']:>8}  {row['similarity']:>10.4f}  "
                  f"{row['points']:>7}  {row['score']:>6.3f}")
        if args.ply is not None:
            print(args.ply)
    return 0
