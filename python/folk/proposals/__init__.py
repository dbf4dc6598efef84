"""Class-agnostic instance proposals: mask NMS, the CSR form kernels consume, the file names
of a proposals directory, and geometric proposals for scans without Mask3D output."""

from folk.proposals.csr import ProposalCSR, masks_to_csr
from folk.proposals.files import (
                                  load_scene_proposals,
                                  proposal_files,
                                  proposal_scenes,
                                  save_scene_proposals,
)
from folk.proposals.geometric import GeometricProposalConfig, geometric_proposals
from folk.proposals.nms import DEFAULT_IOU, mask_iou, mask_nms, nms_proposals

__all__ = [
    "DEFAULT_IOU", "GeometricProposalConfig", "ProposalCSR", "geometric_proposals",
    "load_scene_proposals", "mask_iou", "mask_nms", "masks_to_csr", "nms_proposals",
    "proposal_files", "proposal_scenes", "save_scene_proposals",
]
