"""folk: fast open-vocabulary 3D instance segmentation by label-guided knowledge distillation.

The data path, one subpackage per step, in the layer order :mod:`folk.layers` defines (an
import only ever points to an earlier step)::

    data (scenes, proposals, features, GT, vocabularies) -> synthetic -> features
    -> proposals -> ops (compiled kernels) -> clip -> teacher -> student -> distill
    -> predict -> evaluation, with the command line (folk.cli) on top

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
