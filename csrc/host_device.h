// FOLK_HD marks the functions that the C++ kernels (csrc/) and the CUDA kernels (cuda/) share:
// __host__ __device__ when nvcc compiles the including file, plain inline otherwise.
#pragma once

#if defined(__CUDACC__)
#define FOLK_HD __host__ __device__ __forceinline__
#else
#define FOLK_HD inline
#endif
