"""Compiled kernels (folk._C on the CPU, folk._cuda on a GPU) and their Python wrappers."""

from folk.ops.extensions import cpu_extension, cuda_available, cuda_extension

__all__ = ["cpu_extension", "cuda_available", "cuda_extension"]
