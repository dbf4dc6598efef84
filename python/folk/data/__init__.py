"""Scenes and their inputs: the data model (:mod:`folk.data.scene`) and the readers of the
layouts users bring (ScanNet, Open-YOLO 3D, Replica, Mask3D outputs, GT)."""

from folk.data.arrays import load_array
from folk.data.classes import ClassList, load_class_list
from folk.data.inputs import read_features, read_ground_truth, read_proposals
from folk.data.membership import ProposalMembership
from folk.data.ply import read_ply_faces, read_ply_vertices, write_ply
from folk.data.reader import read_scene
from folk.data.scene import Frame, GroundTruth, Intrinsics, PointFeatures, Proposals, Scene
from folk.errors import NonFinitePoseWarning  # re-exported: the reader issues it

__all__ = [
    "ClassList", "Frame", "GroundTruth", "Intrinsics", "NonFinitePoseWarning", "PointFeatures",
    "ProposalMembership", "Proposals", "Scene", "load_array", "load_class_list",
    "read_features", "read_ground_truth", "read_ply_faces", "read_ply_vertices", "read_proposals", "read_scene",
    "write_ply",
]
