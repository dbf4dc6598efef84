"""Prediction with the distilled student (docs/method.md §8): image-free, from point features and
proposals to classified instances over any vocabulary (:class:`InstancePrediction`), written
in the ScanNet submission format (:mod:`folk.predict.submission`); and free-text queries. The
student's inputs and classification rule are :mod:`folk.student`'s.

Names are imported on first use, so that the command line starts without loading PyTorch.
"""

from __future__ import annotations

from folk._lazy import lazy_getattr

_EXPORTS = {
    "InstancePrediction": "instances",
    "PredictConfig": "predictor", "ScenePrediction": "predictor",
    "predict_scene": "predictor", "write_scannet_submission": "predictor",
    "QueryResult": "query", "rank_instances": "query",
    "prediction_scene_files": "submission", "read_submission": "submission",
    "write_submission": "submission",
    "TextEmbeddings": "vocabulary", "Vocabulary": "vocabulary",
    "clip_text_embeddings": "vocabulary", "load_text_embeddings": "vocabulary",
    "resolve_vocabulary": "vocabulary", "save_text_embeddings": "vocabulary",
    "vocabulary_from_names": "vocabulary",
}
__all__ = list(_EXPORTS)
__getattr__ = lazy_getattr(__name__, _EXPORTS)
