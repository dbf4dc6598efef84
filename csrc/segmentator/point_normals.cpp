// PCA normals of point neighbourhoods (folk.ops.superpoints.pca_normals): per point, the
// covariance (double) of the point and its k neighbours, and the unit eigenvector of its
// smallest eigenvalue, in closed form (sign arbitrary, like LAPACK's):
//
//   * eigenvalues of the symmetric 3x3 matrix A (scaled by its largest |entry|) by the
//     trigonometric solution of the characteristic cubic: with q = tr(A)/3,
//     p = sqrt(|A - qI|_F^2 / 6) and r = det((A - qI)/p)/2 clamped to [-1, 1],
//     lambda_max = q + 2p cos(acos(r)/3), lambda_min = q + 2p cos(acos(r)/3 + 2pi/3);
//   * the eigenvector of lambda as the longest of the cross products of two rows of
//     A - lambda I (the rows span the plane orthogonal to it);
//   * degenerate cases: a diagonal A gives the axis of its smallest diagonal entry; a double
//     smallest eigenvalue (collinear points) a unit vector orthogonal to the eigenvector of
//     lambda_max; A = 0 (coincident points) or a triple eigenvalue gives (1, 0, 0), the first
//     column of the identity LAPACK returns.
//
// OpenMP over points; each point's result depends on its own neighbourhood only.
#include <cmath>
#include <cstdint>

#include "segmentator/segmentator.h"

namespace folk::segmentator {

namespace {

struct Vec3d {
  double x, y, z;
};

Vec3d cross(const Vec3d& u, const Vec3d& v) {
  return {u.y * v.z - u.z * v.y, u.z * v.x - u.x * v.z, u.x * v.y - u.y * v.x};
}

double norm2(const Vec3d& v) { return v.x * v.x + v.y * v.y + v.z * v.z; }

// Squared length below which a cross product of rows (entries of order 1 after scaling) is
// taken as zero: the eigenvalue is (numerically) multiple.
constexpr double kDegenerate = 1e-20;
constexpr double kTwoPiThirds = 2.0943951023931957;  // 2 pi / 3

// The longest cross product of two rows of the symmetric a - lambda I, and its squared length.
Vec3d null_direction(const double a[3][3], double lambda, double* length2) {
  const Vec3d r0{a[0][0] - lambda, a[0][1], a[0][2]};
  const Vec3d r1{a[1][0], a[1][1] - lambda, a[1][2]};
  const Vec3d r2{a[2][0], a[2][1], a[2][2] - lambda};
  const Vec3d c[3] = {cross(r0, r1), cross(r0, r2), cross(r1, r2)};
  int best = 0;
  double best2 = norm2(c[0]);
  for (int i = 1; i < 3; ++i) {
    const double d2 = norm2(c[i]);
    if (d2 > best2) {
      best = i;
      best2 = d2;
    }
  }
  *length2 = best2;
  return c[best];
}

// A unit vector orthogonal to the unit vector u.
Vec3d orthogonal(const Vec3d& u) {
  const Vec3d axis = std::fabs(u.x) <= std::fabs(u.y) && std::fabs(u.x) <= std::fabs(u.z)
                         ? Vec3d{1.0, 0.0, 0.0}
                         : (std::fabs(u.y) <= std::fabs(u.z) ? Vec3d{0.0, 1.0, 0.0}
                                                             : Vec3d{0.0, 0.0, 1.0});
  const Vec3d v = cross(u, axis);
  const double n = std::sqrt(norm2(v));
  return {v.x / n, v.y / n, v.z / n};
}

}  // namespace

void smallest_eigenvector(const double cov[3][3], double out[3]) {
  double m = 0.0;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) m = std::fmax(m, std::fabs(cov[i][j]));
  }
  out[0] = 1.0;
  out[1] = 0.0;
  out[2] = 0.0;
  if (!(m > 0.0)) return;
  double a[3][3];
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) a[i][j] = cov[i][j] / m;
  }
  const double off = a[0][1] * a[0][1] + a[0][2] * a[0][2] + a[1][2] * a[1][2];
  if (off == 0.0) {  // diagonal: the axis of the smallest entry (the first one on ties)
    int k = 0;
    for (int i = 1; i < 3; ++i) {
      if (a[i][i] < a[k][k]) k = i;
    }
    out[0] = 0.0;
    out[k] = 1.0;
    return;
  }
  const double q = (a[0][0] + a[1][1] + a[2][2]) / 3.0;
  const double d0 = a[0][0] - q, d1 = a[1][1] - q, d2 = a[2][2] - q;
  const double p = std::sqrt((d0 * d0 + d1 * d1 + d2 * d2 + 2.0 * off) / 6.0);
  const double b00 = d0 / p, b11 = d1 / p, b22 = d2 / p;
  const double b01 = a[0][1] / p, b02 = a[0][2] / p, b12 = a[1][2] / p;
  const double det = b00 * (b11 * b22 - b12 * b12) - b01 * (b01 * b22 - b12 * b02) +
                     b02 * (b01 * b12 - b11 * b02);
  const double r = std::fmin(1.0, std::fmax(-1.0, det / 2.0));
  const double phi = std::acos(r) / 3.0;
  const double lambda_min = q + 2.0 * p * std::cos(phi + kTwoPiThirds);
  double length2 = 0.0;
  Vec3d v = null_direction(a, lambda_min, &length2);
  if (!(length2 > kDegenerate)) {  // a double smallest eigenvalue: any vector across the largest
    const Vec3d w = null_direction(a, q + 2.0 * p * std::cos(phi), &length2);
    if (!(length2 > kDegenerate)) return;  // a triple eigenvalue
    const double n = std::sqrt(length2);
    v = orthogonal(Vec3d{w.x / n, w.y / n, w.z / n});
    length2 = 1.0;
  }
  const double n = std::sqrt(length2);
  out[0] = v.x / n;
  out[1] = v.y / n;
  out[2] = v.z / n;
}

void pca_normals(const float* points, int64_t num_points, const int64_t* neighbours, int64_t k,
                 float* normals) {
#ifdef FOLK_HAVE_OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (int64_t i = 0; i < num_points; ++i) {
    const int64_t* row = neighbours + i * k;
    double mean[3] = {points[3 * i], points[3 * i + 1], points[3 * i + 2]};
    for (int64_t j = 0; j < k; ++j) {
      const float* p = points + 3 * row[j];
      for (int c = 0; c < 3; ++c) mean[c] += p[c];
    }
    for (int c = 0; c < 3; ++c) mean[c] /= static_cast<double>(k + 1);
    double cov[3][3] = {{0.0, 0.0, 0.0}, {0.0, 0.0, 0.0}, {0.0, 0.0, 0.0}};
    for (int64_t j = -1; j < k; ++j) {
      const float* p = points + 3 * (j < 0 ? i : row[j]);
      const double d[3] = {p[0] - mean[0], p[1] - mean[1], p[2] - mean[2]};
      for (int r = 0; r < 3; ++r) {
        for (int c = r; c < 3; ++c) cov[r][c] += d[r] * d[c];
      }
    }
    cov[1][0] = cov[0][1];
    cov[2][0] = cov[0][2];
    cov[2][1] = cov[1][2];
    double n[3];
    smallest_eigenvector(cov, n);
    for (int c = 0; c < 3; ++c) normals[3 * i + c] = static_cast<float>(n[c]);
  }
}

}  // namespace folk::segmentator
