"""Class-agnostic instance proposals: mask NMS, the file names of a proposals directory, and
proposals for scans without Mask3D output (superpoint merging; the older geometric ones).
Their compact form for kernels is :class:`folk.data.membership.ProposalMembership`."""

from folk.proposals.files import (
                                  load_scene_proposals,
                                  proposal_files,
                                  proposal_scenes,
                                  save_scene_proposals,
)
from folk.proposals.geometric import GeometricProposalConfig, geometric_proposals
from folk.proposals.nms import DEFAULT_IOU, mask_iou, mask_nms, nms_membership, nms_proposals
from folk.proposals.superpoint_merging import SuperpointMergingConfig, superpoint_proposals

__all__ = [
    "DEFAULT_IOU", "GeometricProposalConfig", "SuperpointMergingConfig", "geometric_proposals",
    "load_scene_proposals", "mask_iou", "mask_nms", "nms_membership", "nms_proposals",
    "proposal_files", "proposal_scenes", "save_scene_proposals", "superpoint_proposals",
]
