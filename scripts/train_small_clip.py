#!/usr/bin/env python
"""Train folk's small CLIP (``folk-small-clip``) on synthetic scenes, on the CPU.

Real CLIP weights cannot be downloaded where folk is developed and tested, so the project ships
a tiny CLIP that knows the synthetic vocabulary (:data:`folk.synthetic.VOCABULARY`) and nothing
else. It is what the teacher uses by default on synthetic scenes; **for real scans supply real
CLIP weights** (``folk teacher --clip-model ViT-B-16 --clip-pretrained TAG`` or
``--clip-checkpoint FILE``).

What this script does (fixed seeds: it reproduces the committed checkpoint up to floating-point
differences between machines and thread counts):

1. generates synthetic scenes with ``folk.synthetic.generate_scene`` (``small`` preset, 40
   frames each; training seeds and held-out seeds are disjoint, and disjoint from the seeds
   0-99 the benchmarks use);
2. crops every object visible in the frames (random margin, occluded objects included, the room
   and other objects as background; :func:`folk.clip.crops.scene_crops`), and keeps every 4th
   frame whole, resized to the teacher's input (96 × 128), with the patch weights of each
   visible object (:func:`folk.clip.crops.scene_frames`);
3. trains the open_clip architecture ``folk-small-clip`` (config in
   ``python/folk/clip/model_configs/``) from scratch with open_clip's contrastive loss
   (``open_clip.loss.ClipLoss``) between captions and four image embeddings:

   * crops, class token (CLIP's ordinary image embedding: the zero-shot classifier);
   * crops, the object's patches mean-pooled (``φ(Σ F·m / Σ m)``, docs/method.md §4);
   * whole frames, each visible object's patches mean-pooled (the teacher's ``mean`` pooling);
   * whole frames, each visible object by masked attention of the class token in the last
     block (the teacher's ``attention`` pooling);

   so that the dense features the teacher pools are trained for it (as MaskCLIP++ fine-tunes
   CLIP for mask pooling). Augmentation: zoom/shift, horizontal flip, exposure and tint.
4. reports held-out accuracies (zero-shot on crops with the prompt ``"a {class} in the scene"``,
   and both poolings on whole frames) and writes the fp16 state dict
   (``python/folk/clip/weights/folk-small-clip.pt``) and a JSON log beside it.

    .venv/bin/python scripts/train_small_clip.py      # scenes: ~10 min, training: ~10 min
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent

TRAIN_SEEDS = list(range(1000, 1160))
HELDOUT_SEEDS = list(range(2000, 2004))
TEMPLATES = ["a {} in the scene", "a {} in the scene", "a photo of a {}", "a {}",
             "a {} in a room"]
FRAME_SIZE = (96, 128)  # teacher input for 640 x 480 frames (short side 96)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work-dir", type=Path, default=Path("/tmp/folk-small-clip"),
                   help="where the synthetic scenes and crops are generated (reused)")
    p.add_argument("--out", type=Path,
                   default=REPO / "python/folk/clip/weights/folk-small-clip.pt")
    p.add_argument("--n-train-scenes", type=int, default=len(TRAIN_SEEDS))
    p.add_argument("--frames", type=int, default=40, help="frames rendered per scene")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch-size", type=int, default=128, help="crops per step")
    p.add_argument("--batch-frames", type=int, default=16, help="whole frames per step")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--warmup", type=int, default=40)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    return p.parse_args(argv)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def make_scenes(work: Path, seeds: list[int], frames: int) -> list[Path]:
    from folk.synthetic import default_name, generate_scene, is_complete

    roots = []
    for s in seeds:
        name = default_name(s)
        if not is_complete(work, name, s, "small", n_frames=frames):
            t = time.perf_counter()
            generate_scene(work, seed=s, preset="small", progress=False, n_frames=frames)
            log(f"generated {name} ({time.perf_counter() - t:.1f} s)")
        roots.append(work / name)
    return roots


def _cache_key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def make_crops(roots: list[Path], seed: int, margin, max_views: int, cache: Path):
    from folk.clip.crops import Crops, scene_crops
    from folk.files import save_npz
    from folk.synthetic import VOCABULARY

    # a change of the cropping code invalidates the cache
    path = cache / f"crops-{_cache_key(roots, seed, margin, max_views, inspect.getsource(scene_crops))}.npz"
    if path.is_file():
        with np.load(path) as z:
            return Crops(z["images"], z["masks"], z["labels"], list(VOCABULARY), z["groups"])
    crops = Crops.concatenate([scene_crops(r, list(VOCABULARY), np.random.default_rng([seed, i]),
                                           margin=margin, max_views=max_views)
                               for i, r in enumerate(roots)])
    save_npz(path, images=crops.images, masks=crops.masks, labels=crops.labels,
             groups=crops.groups)
    return crops


def make_frames(roots: list[Path], grid: tuple[int, int], cache: Path):
    from folk.clip.crops import FrameObjects, scene_frames
    from folk.files import save_npz
    from folk.synthetic import VOCABULARY

    path = cache / f"frames-{_cache_key(roots, grid, FRAME_SIZE, inspect.getsource(scene_frames))}.npz"
    if path.is_file():
        with np.load(path) as z:
            return FrameObjects(z["images"], z["frame"], z["labels"], z["weights"],
                                list(VOCABULARY))
    fo = FrameObjects.concatenate([scene_frames(r, list(VOCABULARY), FRAME_SIZE, grid)
                                   for r in roots])
    save_npz(path, images=fo.images, frame=fo.frame, labels=fo.labels, weights=fo.weights)
    return fo


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    import open_clip
    import torch.nn.functional as F

    from folk.clip.crops import zero_shot_accuracy
    from folk.clip.dense import run_vit
    from folk.clip.loader import ClipModel, _open_clip, file_sha256
    from folk.clip.pooling import clip_head, masked_attention
    from folk.clip.text import text_embeddings
    from folk.files import atomic_open, write_json
    from folk.synthetic import GENERATOR_VERSION, VOCABULARY

    t_start = time.perf_counter()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    oc = _open_clip()
    model = oc.create_model("folk-small-clip")
    tokenizer = oc.get_tokenizer("folk-small-clip")
    visual = model.visual
    patch = visual.patch_size[0]
    frame_grid = (FRAME_SIZE[0] // patch, FRAME_SIZE[1] // patch)

    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    train_roots = make_scenes(work, TRAIN_SEEDS[:args.n_train_scenes], args.frames)
    held_roots = make_scenes(work, HELDOUT_SEEDS, args.frames)
    t_data = time.perf_counter()
    train = make_crops(train_roots, args.seed, (0.05, 0.6), 8, work)
    held = make_crops(held_roots, args.seed + 1, (0.1, 0.1), 8, work)
    train_f = make_frames(train_roots, frame_grid, work)
    held_f = make_frames(held_roots, frame_grid, work)
    log(f"crops: {len(train)} train, {len(held)} held-out; per class "
        f"{np.bincount(train.labels, minlength=len(VOCABULARY)).tolist()}; frames: "
        f"{len(train_f.images)} train ({len(train_f.labels)} objects), {len(held_f.images)} "
        f"held-out ({len(held_f.labels)} objects)")
    t_crops = time.perf_counter()

    mean = torch.tensor(open_clip.OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(open_clip.OPENAI_DATASET_STD).view(1, 3, 1, 1)
    images = torch.from_numpy(train.images).permute(0, 3, 1, 2).contiguous()  # uint8
    masks = torch.from_numpy(train.masks)  # (N, S, S) bool
    labels = train.labels
    frames = torch.from_numpy(train_f.images).permute(0, 3, 1, 2).contiguous()
    frame_objects = [np.flatnonzero(train_f.frame == i) for i in range(len(train_f.images))]
    fweights = torch.from_numpy(train_f.weights)
    # class-balanced sampling of crops: every class equally likely per draw
    freq = np.bincount(labels, minlength=len(VOCABULARY)).astype(np.float64)
    p = 1.0 / freq[labels]
    p /= p.sum()
    captions = {t: tokenizer([t.format(c) for c in VOCABULARY]) for t in set(TEMPLATES)}

    decay, no_decay = [], []
    for n, prm in model.named_parameters():
        (no_decay if prm.ndim < 2 or "embedding" in n or "logit_scale" in n else decay).append(prm)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr,
                            betas=(0.9, 0.98), eps=1e-6)
    loss_fn = open_clip.loss.ClipLoss()
    head = clip_head(visual)
    history = []

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        t = (step - args.warmup) / max(1, args.steps - args.warmup)
        return args.lr * 0.5 * (1 + math.cos(math.pi * t))

    def caption_tokens(class_ids):
        tmpl = rng.integers(len(TEMPLATES), size=len(class_ids))
        return torch.stack([captions[TEMPLATES[k]][c] for k, c in zip(tmpl, class_ids,
                                                                       strict=True)])

    def mean_pool(tokens, w):  # tokens (L, C), w (P, L)
        return head((w @ tokens) / w.sum(1, keepdim=True).clamp_min(1e-6))

    def frame_embeddings(x, objects, w):
        """Mean- and attention-pooled embeddings of the objects of a batch of frames."""
        dense = run_vit(visual, x)
        e_mean, e_attn = [], []
        for i, rows in enumerate(objects):
            m = w[rows].reshape(len(rows), -1)
            e_mean.append(mean_pool(dense.tokens[i, 1:], m))
            e_attn.append(masked_attention(visual, dense.last_input[i], m))
        return torch.cat(e_mean), torch.cat(e_attn)

    def evaluate():
        model.eval()
        clip = ClipModel(name="folk-small-clip", model=model, tokenizer=tokenizer,
                         mean=tuple(open_clip.OPENAI_DATASET_MEAN),
                         std=tuple(open_clip.OPENAI_DATASET_STD),
                         image_size=tuple(visual.image_size), identity="training")
        acc = zero_shot_accuracy(clip, held)
        text = torch.from_numpy(text_embeddings(clip, VOCABULARY, cache_dir=False))
        hits_mean = hits_attn = 0
        with torch.no_grad():
            for start in range(0, len(held_f.images), 64):
                ids = range(start, min(start + 64, len(held_f.images)))
                x = clip.preprocess(held_f.images[list(ids)], size=FRAME_SIZE)
                objects = [np.flatnonzero(held_f.frame == i) for i in ids]
                em, ea = frame_embeddings(x, objects, torch.from_numpy(held_f.weights))
                truth = torch.from_numpy(held_f.labels[np.concatenate(objects)])
                hits_mean += int(((em @ text.T).argmax(1) == truth).sum())
                hits_attn += int(((ea @ text.T).argmax(1) == truth).sum())
        model.train()
        n = len(held_f.labels)
        return {"heldout_zero_shot": acc, "heldout_frames_mean": hits_mean / n,
                "heldout_frames_attention": hits_attn / n}

    def augment(x, gain_range=(0.8, 1.2)):
        b = x.shape[0]
        gain = torch.from_numpy(rng.uniform(*gain_range, (b, 1, 1, 1))).float()
        tint = torch.from_numpy(rng.uniform(0.95, 1.05, (b, 3, 1, 1))).float()
        return ((x * gain * tint).clamp_(0, 1) - mean) / std

    model.train()
    t_train = time.perf_counter()
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        # -- crops: random zoom-in (scale 0.75..1) and shift, horizontal flip, exposure
        idx = rng.choice(len(labels), size=args.batch_size, replace=True, p=p)
        b = len(idx)
        x = images[idx].float().div_(255)
        mk = masks[idx].float()[:, None]
        zoom = torch.from_numpy(rng.uniform(0.75, 1.0, b)).float()
        shift = torch.from_numpy(rng.uniform(-1, 1, (b, 2))).float() * (1 - zoom)[:, None]
        flip = torch.from_numpy(np.where(rng.random(b) < 0.5, -1.0, 1.0)).float()
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0], theta[:, 1, 1] = zoom * flip, zoom
        theta[:, :, 2] = shift
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        mk = F.grid_sample(mk, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        w = F.avg_pool2d(mk, patch)[:, 0].reshape(b, -1)  # covered fraction of each patch
        dense = run_vit(visual, augment(x))
        e_cls = head(dense.tokens[:, 0])
        e_crop = head((w[:, :, None] * dense.tokens[:, 1:]).sum(1)
                      / w.sum(1, keepdim=True).clamp_min(1e-6))
        t_crop = model.encode_text(caption_tokens(labels[idx]), normalize=True)
        # -- whole frames: every visible object, both poolings
        fidx = rng.choice(len(frames), size=args.batch_frames, replace=False)
        xf = frames[fidx].float().div_(255)
        objects = [frame_objects[i] for i in fidx]
        wf = fweights.clone()
        flipf = rng.random(len(fidx)) < 0.5
        for j in np.flatnonzero(flipf):
            xf[j] = xf[j].flip(-1)
            wf[objects[j]] = wf[objects[j]].flip(-1)
        e_fmean, e_fattn = frame_embeddings(augment(xf, (0.85, 1.15)), objects, wf)
        t_frame = model.encode_text(caption_tokens(train_f.labels[np.concatenate(objects)]),
                                    normalize=True)

        scale = model.logit_scale.exp().clamp(max=100)
        losses = {name: loss_fn(F.normalize(e, dim=-1), t, scale) for name, e, t in (
            ("cls", e_cls, t_crop), ("crop_mean", e_crop, t_crop),
            ("frame_mean", e_fmean, t_frame), ("frame_attention", e_fattn, t_frame))}
        loss = sum(losses.values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        rec = {"step": step + 1, **{f"loss_{k}": round(v.item(), 4) for k, v in losses.items()},
               "logit_scale": round(scale.item(), 2), "lr": lr_at(step),
               "seconds": round(time.perf_counter() - t_train, 1)}
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            rec.update(evaluate())
        if (step + 1) % 10 == 0 or "heldout_zero_shot" in rec:
            log(json.dumps(rec))
            history.append(rec)  # the log keeps every 10th step
    t_end = time.perf_counter()

    final = evaluate()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().half() for k, v in model.state_dict().items()}
    with atomic_open(args.out, "wb") as fh:
        torch.save(state, fh)
    result = {
        "model": "folk-small-clip",
        "checkpoint": args.out.name,
        "sha256": file_sha256(args.out),
        "size_bytes": os.path.getsize(args.out),
        "dtype": "float16",
        "vocabulary": list(VOCABULARY),
        "prompt": "a {} in the scene",
        "heldout_zero_shot_accuracy": final["heldout_zero_shot"],
        "heldout_frames_mean_pooled_accuracy": final["heldout_frames_mean"],
        "heldout_frames_attention_pooled_accuracy": final["heldout_frames_attention"],
        "n_train_crops": len(train), "n_heldout_crops": len(held),
        "n_train_frames": len(train_f.images), "n_train_frame_objects": len(train_f.labels),
        "n_heldout_frame_objects": len(held_f.labels),
        "train_seeds": [TRAIN_SEEDS[0], TRAIN_SEEDS[args.n_train_scenes - 1]],
        "heldout_seeds": HELDOUT_SEEDS,
        "frames_per_scene": args.frames, "frame_size": FRAME_SIZE,
        "generator_version": GENERATOR_VERSION, "templates": TEMPLATES,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
                 if k not in ("out", "work_dir")},
        "torch": torch.__version__, "open_clip": open_clip.__version__,
        "threads": torch.get_num_threads(),
        "seconds": {"scenes": round(t_data - t_start, 1), "crops": round(t_crops - t_data, 1),
                    "train": round(t_end - t_train, 1), "total": round(t_end - t_start, 1)},
        "history": history,
    }
    write_json(args.out.with_suffix(".log.json"), result)
    log(f"held-out: zero-shot {final['heldout_zero_shot']:.3f} on crops, frames "
        f"mean-pooled {final['heldout_frames_mean']:.3f}, attention-pooled "
        f"{final['heldout_frames_attention']:.3f}; wrote {args.out} "
        f"({result['size_bytes'] / 1e6:.1f} MB) in {t_end - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
