// CPU segmentator: ScanNet's normals and edge weights (float32, operation for operation, so the
// weights are bit-identical to ScanNet's and to the NumPy reference), then Felzenszwalb-
// Huttenlocher with a disjoint-set forest. Single-threaded: the sort and the merges are
// sequential by definition.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "segmentator/segmentator.h"

namespace folk::segmentator {

namespace {

struct Vec3 {
  float x, y, z;
};

Vec3 sub(const Vec3& a, const Vec3& b) { return {a.x - b.x, a.y - b.y, a.z - b.z}; }

Vec3 load(const float* vertices, int64_t i) {
  const float* p = vertices + 3 * i;
  return {p[0], p[1], p[2]};
}

// cross(u, v) divided by its length (NaN or inf components for a degenerate face).
Vec3 unit_cross(const Vec3& u, const Vec3& v) {
  Vec3 c{u.y * v.z - u.z * v.y, u.z * v.x - u.x * v.z, u.x * v.y - u.y * v.x};
  const float n = std::sqrt(c.x * c.x + c.y * c.y + c.z * c.z);
  c.x /= n;
  c.y /= n;
  c.z /= n;
  return c;
}

// (1 - t) * a + t * b, evaluated as t * b + (1 - t) * a in float32 as ScanNet does.
Vec3 lerp(const Vec3& a, const Vec3& b, float t) {
  const float u = 1.0f - t;
  return {t * b.x + u * a.x, t * b.y + u * a.y, t * b.z + u * a.z};
}

bool finite(const Vec3& v) {
  return std::isfinite(v.x) && std::isfinite(v.y) && std::isfinite(v.z);
}

// ScanNet's weight of the edge a -> b (see segmentator.h, step 2).
float edge_weight(const Vec3& pa, const Vec3& pb, const Vec3& na, const Vec3& nb) {
  float dx = pb.x - pa.x;
  float dy = pb.y - pa.y;
  float dz = pb.z - pa.z;
  const float dd = std::sqrt(dx * dx + dy * dy + dz * dz);
  dx /= dd;
  dy /= dd;
  dz /= dd;
  const float dot = na.x * nb.x + na.y * nb.y + na.z * nb.z;
  const float convex = nb.x * dx + nb.y * dy + nb.z * dz;  // NaN (false) when pa == pb
  const float w = 1.0f - dot;
  return convex > 0 ? w * w : w;
}

// Disjoint sets with union by size and path halving; size() is valid on roots.
class DisjointSets {
 public:
  explicit DisjointSets(int64_t n) : parent_(static_cast<size_t>(n)), size_(static_cast<size_t>(n), 1) {
    std::iota(parent_.begin(), parent_.end(), int32_t{0});
  }
  int32_t find(int32_t x) {
    while (parent_[x] != x) {
      parent_[x] = parent_[parent_[x]];
      x = parent_[x];
    }
    return x;
  }
  // Joins the sets of roots a and b; returns the new root.
  int32_t join(int32_t a, int32_t b) {
    if (size_[a] < size_[b]) std::swap(a, b);
    parent_[b] = a;
    size_[a] += size_[b];
    return a;
  }
  int64_t size(int32_t root) const { return size_[root]; }

 private:
  std::vector<int32_t> parent_;
  std::vector<int64_t> size_;
};

}  // namespace

std::vector<float> mesh_vertex_normals(const float* vertices, int64_t num_vertices,
                                       const int64_t* faces, int64_t num_faces) {
  std::vector<Vec3> normals(static_cast<size_t>(num_vertices), Vec3{0.0f, 0.0f, 0.0f});
  std::vector<int32_t> counts(static_cast<size_t>(num_vertices), 0);
  for (int64_t f = 0; f < num_faces; ++f) {
    const int64_t* idx = faces + 3 * f;
    const Vec3 p1 = load(vertices, idx[0]);
    const Vec3 p2 = load(vertices, idx[1]);
    const Vec3 p3 = load(vertices, idx[2]);
    const Vec3 n = unit_cross(sub(p2, p1), sub(p3, p1));
    if (!finite(n)) continue;  // zero area: no normal to blend in
    for (int k = 0; k < 3; ++k) {
      const int64_t v = idx[k];
      normals[v] = lerp(normals[v], n, 1.0f / (static_cast<float>(counts[v]) + 1.0f));
    }
    for (int k = 0; k < 3; ++k) ++counts[idx[k]];
  }
  std::vector<float> out(static_cast<size_t>(3 * num_vertices));
  for (int64_t v = 0; v < num_vertices; ++v) {
    out[3 * v] = normals[v].x;
    out[3 * v + 1] = normals[v].y;
    out[3 * v + 2] = normals[v].z;
  }
  return out;
}

std::vector<Edge> mesh_edges(const float* vertices, const float* normals, const int64_t* faces,
                             int64_t num_faces) {
  static constexpr int kPairs[3][2] = {{0, 1}, {0, 2}, {2, 1}};
  std::vector<Edge> edges(static_cast<size_t>(3 * num_faces));
  for (int64_t f = 0; f < num_faces; ++f) {
    for (int e = 0; e < 3; ++e) {
      const int64_t a = faces[3 * f + kPairs[e][0]];
      const int64_t b = faces[3 * f + kPairs[e][1]];
      const float w = edge_weight(load(vertices, a), load(vertices, b), load(normals, a),
                                  load(normals, b));
      edges[3 * f + e] = Edge{w, static_cast<int32_t>(a), static_cast<int32_t>(b)};
    }
  }
  return edges;
}

void segment_graph(int64_t num_vertices, std::vector<Edge>& edges, float k_thresh,
                   int64_t min_vertices, int64_t* labels) {
  std::stable_sort(edges.begin(), edges.end(),
                   [](const Edge& x, const Edge& y) { return x.w < y.w; });
  DisjointSets sets(num_vertices);
  std::vector<float> threshold(static_cast<size_t>(num_vertices), k_thresh);
  for (const Edge& e : edges) {
    const int32_t a = sets.find(e.a);
    const int32_t b = sets.find(e.b);
    if (a != b && e.w <= threshold[a] && e.w <= threshold[b]) {
      const int32_t root = sets.join(a, b);
      threshold[root] = e.w + k_thresh / static_cast<float>(sets.size(root));
    }
  }
  for (const Edge& e : edges) {
    const int32_t a = sets.find(e.a);
    const int32_t b = sets.find(e.b);
    if (a != b && (sets.size(a) < min_vertices || sets.size(b) < min_vertices)) {
      sets.join(a, b);
    }
  }
  // Ids in the order of each segment's smallest vertex.
  std::vector<int64_t> id_of_root(static_cast<size_t>(num_vertices), -1);
  int64_t next = 0;
  for (int64_t v = 0; v < num_vertices; ++v) {
    const int32_t root = sets.find(static_cast<int32_t>(v));
    if (id_of_root[root] < 0) id_of_root[root] = next++;
    labels[v] = id_of_root[root];
  }
}

}  // namespace folk::segmentator
