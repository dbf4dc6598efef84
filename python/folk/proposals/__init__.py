"""Class-agnostic instance proposals: mask NMS, the file names of a proposals directory, and
geometric proposals for scans without Mask3D output. Their compact form for kernels is
:class:`folk.data.membership.ProposalMembership`."""

from folk.proposals.files import (
                                  load_scene_proposals,
                                  proposal_files,
                                  proposal_scenes,
                                  save_scene_proposals,
)
from folk.proposals.geometric import GeometricProposalConfig, geometric_proposals
from folk.proposals.nms import DEFAULT_IOU, mask_iou, mask_nms, nms_membership, nms_proposals

__all__ = [
    "DEFAULT_IOU", "GeometricProposalConfig", "geometric_proposals",
    "load_scene_proposals", "mask_iou", "mask_nms", "nms_membership", "nms_proposals",
    "proposal_files", "proposal_scenes", "save_scene_proposals",
]
