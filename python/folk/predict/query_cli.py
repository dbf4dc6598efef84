"""``folk query``: rank a scene's instances by similarity to free text (image-free); a thin
wrapper over :func:`folk.predict.query.rank_instances`."""

from __future__ import annotations

from folk.cli_args import add_command, add_scene_inputs, add_student, non_empty_text, positive_int


def register(subparsers) -> None:
    q = add_command(
        subparsers, "query", run, help="rank a scene's instances by similarity to free text",
        description="Rank the instances of one scene by cosine similarity between the student "
                    "embedding and the text's embedding (CLIP's text encoder, or an embeddings "
                    "file that holds the text as one of its names).")
    q.add_argument("text", type=non_empty_text, help="the query, e.g. 'office chair'")
    q.add_argument("--scene", required=True)
    add_scene_inputs(q)
    add_student(q)
    q.add_argument("--top", type=positive_int, default=10, help="how many to list (default 10)")
    q.add_argument("--json", action="store_true", help="print JSON")


def run(args) -> int:
    import json

    from folk.predict.cli import check_feature_width, load_student, text_embeddings_from_args
    from folk.predict.query import rank_instances

    inputs, adapter, meta = load_student(args)
    text, _ = text_embeddings_from_args(args, [args.text], meta)
    features, proposals = inputs.load(args.scene)
    check_feature_width(args, args.scene, features, adapter)
    result = rank_instances(features, proposals, adapter, text[0], args.nms_iou)
    k = len(result.similarity) if args.top is None else min(args.top, len(result.similarity))
    rows = [{"rank": r + 1, "proposal": int(result.proposal_index[r]),
             "similarity": float(result.similarity[r]), "points": int(result.num_points[r]),
             "score": float(result.scores[r])} for r in range(k)]
    if args.json:
        print(json.dumps({"scene": args.scene, "query": args.text, "instances": rows}, indent=2))
    else:
        print(f"{'rank':>4}  {'proposal':>8}  {'similarity':>10}  {'points':>7}  {'score':>6}")
        for row in rows:
            print(f"{row['rank']:>4}  {row['proposal']:>8}  {row['similarity']:>10.4f}  "
                  f"{row['points']:>7}  {row['score']:>6.3f}")
    return 0
