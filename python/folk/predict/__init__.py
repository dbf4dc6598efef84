"""Prediction with the distilled student (METHOD.md §8): image-free, from point features and
proposals to classified instances over any vocabulary, written in the ScanNet submission
format; and free-text queries.

Names are imported on first use, so that the command line starts without loading PyTorch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "SceneInputs": "inputs", "parse_scene_list": "inputs",
    "DEFAULT_TAU_L": "predictor", "PredictConfig": "predictor", "ScenePrediction": "predictor",
    "class_probabilities": "predictor", "embed_proposals": "predictor",
    "embed_segments": "predictor",
    "predict_scene": "predictor", "write_scannet_submission": "predictor",
    "QueryResult": "query", "rank_instances": "query",
    "TextEmbeddings": "vocabulary", "Vocabulary": "vocabulary",
    "load_text_embeddings": "vocabulary", "resolve_vocabulary": "vocabulary",
    "save_text_embeddings": "vocabulary", "vocabulary_from_names": "vocabulary",
}
__all__ = ["DEFAULT_TAU_L", "PredictConfig", "QueryResult", "SceneInputs", "ScenePrediction",
    "TextEmbeddings", "Vocabulary", "class_probabilities", "embed_proposals", "embed_segments",
    "load_text_embeddings", "parse_scene_list", "predict_scene", "rank_instances",
    "resolve_vocabulary", "save_text_embeddings", "vocabulary_from_names",
    "write_scannet_submission"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"folk.predict.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'folk.predict' has no attribute {name!r}")
