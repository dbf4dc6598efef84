// The projection-and-depth test of one point in one frame, shared verbatim by the C++ kernel
// (csrc/visibility/visibility_cpu.cpp) and the CUDA kernel (cuda/visibility/visibility.cu).
//
// Every operation is a float32 IEEE operation in a fixed order, with no fused multiply-add:
//   x = ((m0*X + m1*Y) + m2*Z) + m3          (y, z likewise with rows 1 and 2)
//   keep z > 0
//   u = (fx*x)/z + cx,   v = (fy*y)/z + cy
//   pixel (floor(u), floor(v)) inside [0,W) x [0,H)   (tested on u, v themselves, see below)
//   d = depth[v*W + u];  visible iff d > 0 and |d - z| <= delta
// The NumPy reference (folk.ops.reference.visible_pixel_ids) performs the same float32
// operations in the same order, so floor(u) and the depth test agree bit for bit.
// On the host, the translation unit that includes this header must not contract a*b+c into an
// FMA: visibility_cpu.cpp says so with a pragma before including it, and CMakeLists.txt compiles
// folk._C with -ffp-contract=off. On the device the __f*_rn intrinsics are never contracted.
#pragma once

#include <cmath>
#include <cstdint>

#include "host_device.h"

namespace folk::visibility {

FOLK_HD float f32_mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

FOLK_HD float f32_add(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

FOLK_HD float f32_div(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

// One row of the world-to-camera matrix applied to (X, Y, Z, 1).
FOLK_HD float f32_row(const float* m, float X, float Y, float Z) {
  return f32_add(f32_add(f32_add(f32_mul(m[0], X), f32_mul(m[1], Y)), f32_mul(m[2], Z)), m[3]);
}

// Flat pixel id v*W + u where a point projects, or -1 when it is behind the camera or outside
// the image; *z_out receives its camera depth. Branch-free so that the CPU loop vectorises.
// floor() is not needed: with W, H integers, 0 <= floor(u) < W  <=>  0 <= u < W, and for
// u >= 0 truncation toward zero equals floor. Negated comparisons also reject NaN.
//   cam:   12 floats, row-major 3x4 world-to-camera [R | t]
//   intr:  4 floats fx, fy, cx, cy
FOLK_HD int32_t project_pixel(const float* cam, const float* intr, int32_t H, int32_t W, float X,
                              float Y, float Z, float* z_out) {
  const float z = f32_row(cam + 8, X, Y, Z);
  const float x = f32_row(cam + 0, X, Y, Z);
  const float y = f32_row(cam + 4, X, Y, Z);
  const float u = f32_add(f32_div(f32_mul(intr[0], x), z), intr[2]);
  const float v = f32_add(f32_div(f32_mul(intr[1], y), z), intr[3]);
  *z_out = z;
  const float wf = static_cast<float>(W), hf = static_cast<float>(H);
  // Bitwise & (not &&) and selects (not branches): no control flow.
  const bool inside = (z > 0.0f) & (u >= 0.0f) & (u < wf) & (v >= 0.0f) & (v < hf);
  // Clamp before converting so the conversion is always defined; only used when inside.
  const float uc = u >= 0.0f ? (u < wf ? u : 0.0f) : 0.0f;
  const float vc = v >= 0.0f ? (v < hf ? v : 0.0f) : 0.0f;
  const int32_t pix = static_cast<int32_t>(vc) * W + static_cast<int32_t>(uc);
  return inside ? pix : -1;
}

// The depth test of a point at camera depth z that projects to pixel pix (from
// project_pixel(), -1 = nowhere): pix when the depth there is valid (> 0; NaN is invalid) and
// |d - z| <= delta, else -1. Branch-free (a clamped load and selects) so that the CPU loop over
// points vectorises; it reads depth[0] when pix < 0, so the image must have a pixel.
FOLK_HD int32_t depth_tested_pixel(const float* depth, int32_t pix, float z, float delta) {
  const float d = depth[pix < 0 ? 0 : pix];
  const bool ok = (pix >= 0) & (d > 0.0f) & (fabsf(f32_add(d, -z)) <= delta);
  return ok ? pix : -1;
}

// Flat pixel id v*W + u of a point in one frame, or -1 when the point is behind the camera,
// outside the image, where the depth is invalid (<= 0, NaN) or off by more than delta.
//   depth: H*W floats of this frame, metres; H*W >= 1
FOLK_HD int32_t visible_pixel(const float* cam, const float* intr, const float* depth, int32_t H,
                              int32_t W, float delta, float X, float Y, float Z) {
  float z;
  const int32_t pix = project_pixel(cam, intr, H, W, X, Y, Z, &z);
  return depth_tested_pixel(depth, pix, z, delta);
}

}  // namespace folk::visibility
