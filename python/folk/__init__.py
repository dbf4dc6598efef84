"""folk: fast open-vocabulary 3D instance segmentation by label-guided knowledge distillation.

The data path, one subpackage per step::

    data (scenes, frames, proposals, features, GT)  ->  ops (compiled kernels)
    -> teacher  ->  distillation  ->  student  ->  predictions  ->  evaluation  ->  export

Importing folk never needs a GPU; the compiled extensions are loaded on first use
(see :mod:`folk.ops.extensions`).
"""

from importlib.metadata import PackageNotFoundError, version

from folk.errors import FolkError, FolkInputError

try:
    __version__ = version("folk")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"

__all__ = ["FolkError", "FolkInputError", "__version__"]
