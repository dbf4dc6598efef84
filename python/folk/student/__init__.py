"""The student: segment-mean pooling of point features over each proposal, then the VL-adapter
into CLIP's joint space (METHOD.md §6). Image-free."""

from folk.student.model import (
                                AdapterConfig,
                                VLAdapter,
                                adapter_from_state,
                                load_adapter,
                                read_checkpoint,
                                save_adapter,
)
from folk.student.segment_mean import (
                                check_segments,
                                pool_proposals,
                                segment_mean,
                                segment_mean_torch,
)

__all__ = ["AdapterConfig", "VLAdapter", "adapter_from_state", "check_segments",
           "load_adapter", "pool_proposals", "read_checkpoint", "save_adapter", "segment_mean",
           "segment_mean_torch"]
