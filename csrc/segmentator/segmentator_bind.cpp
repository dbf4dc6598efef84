// pybind11 bindings of the segmentator. Arguments arrive checked and converted by
// folk/ops/superpoints.py (dtype, C order, shapes, index ranges, finite values, vertex count
// below 2^31); shapes are checked again here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "numpy_args.h"
#include "segmentator/segmentator.h"

namespace py = pybind11;

namespace folk::segmentator {

namespace {

void check_mesh(const char* fn, const carray<float>& vertices, const carray<int64_t>& faces) {
  check_array(fn, "vertices", vertices, {kAnySize, 3});
  check_array(fn, "faces", faces, {kAnySize, 3});
  if (vertices.shape(0) > std::numeric_limits<int32_t>::max()) {
    throw py::value_error(arg_prefix(fn, "vertices") + "must have fewer than 2^31 rows");
  }
}

void check_parameters(const char* fn, float k_thresh, int64_t min_vertices) {
  if (!(k_thresh >= 0.0f)) throw py::value_error(arg_prefix(fn, "k_thresh") + "must be >= 0");
  if (min_vertices < 0) throw py::value_error(arg_prefix(fn, "min_vertices") + "must be >= 0");
}

carray<int64_t> run_segmentation(int64_t num_vertices, std::vector<Edge>& edges, float k_thresh,
                                 int64_t min_vertices) {
  carray<int64_t> labels(num_vertices);
  int64_t* out = labels.mutable_data();
  {
    py::gil_scoped_release release;
    segment_graph(num_vertices, edges, k_thresh, min_vertices, out);
  }
  return labels;
}

carray<int64_t> mesh_segments(const carray<float>& vertices, const carray<int64_t>& faces,
                              float k_thresh, int64_t min_vertices) {
  const char* fn = "mesh_segments";
  check_mesh(fn, vertices, faces);
  check_parameters(fn, k_thresh, min_vertices);
  const int64_t n = vertices.shape(0);
  const int64_t f = faces.shape(0);
  std::vector<Edge> edges;
  {
    py::gil_scoped_release release;
    const std::vector<float> normals = mesh_vertex_normals(vertices.data(), n, faces.data(), f);
    edges = mesh_edges(vertices.data(), normals.data(), faces.data(), f);
  }
  return run_segmentation(n, edges, k_thresh, min_vertices);
}

carray<int64_t> graph_segments(int64_t num_vertices, const carray<int64_t>& edge_index,
                               const carray<float>& weights, float k_thresh,
                               int64_t min_vertices) {
  const char* fn = "graph_segments";
  check_array(fn, "edges", edge_index, {kAnySize, 2});
  check_array(fn, "weights", weights, {edge_index.shape(0)});
  check_parameters(fn, k_thresh, min_vertices);
  if (num_vertices < 0 || num_vertices > std::numeric_limits<int32_t>::max()) {
    throw py::value_error(arg_prefix(fn, "num_vertices") + "must lie in [0, 2^31)");
  }
  const int64_t e = edge_index.shape(0);
  std::vector<Edge> edges(static_cast<size_t>(e));
  const int64_t* idx = edge_index.data();
  const float* w = weights.data();
  for (int64_t i = 0; i < e; ++i) {
    edges[i] = Edge{w[i], static_cast<int32_t>(idx[2 * i]), static_cast<int32_t>(idx[2 * i + 1])};
  }
  return run_segmentation(num_vertices, edges, k_thresh, min_vertices);
}

carray<float> point_normals(const carray<float>& points, const carray<int64_t>& neighbours) {
  const char* fn = "pca_normals";
  check_array(fn, "points", points, {kAnySize, 3});
  check_array(fn, "neighbours", neighbours, {points.shape(0), kAnySize});
  const int64_t n = points.shape(0);
  const int64_t k = neighbours.shape(1);
  const int64_t* idx = neighbours.data();
  for (int64_t i = 0; i < n * k; ++i) {
    if (idx[i] < 0 || idx[i] >= n) {
      throw py::value_error(arg_prefix(fn, "neighbours") + "must hold point indices in [0, N)");
    }
  }
  carray<float> out({n, int64_t{3}});
  float* dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    pca_normals(points.data(), n, idx, k, dst);
  }
  return out;
}

carray<float> vertex_normals(const carray<float>& vertices, const carray<int64_t>& faces) {
  check_mesh("mesh_vertex_normals", vertices, faces);
  const int64_t n = vertices.shape(0);
  const std::vector<float> normals =
      mesh_vertex_normals(vertices.data(), n, faces.data(), faces.shape(0));
  carray<float> out({n, int64_t{3}});
  std::copy(normals.begin(), normals.end(), out.mutable_data());
  return out;
}

py::tuple edges_of_mesh(const carray<float>& vertices, const carray<int64_t>& faces) {
  check_mesh("mesh_edges", vertices, faces);
  const int64_t n = vertices.shape(0);
  const int64_t f = faces.shape(0);
  const std::vector<float> normals = mesh_vertex_normals(vertices.data(), n, faces.data(), f);
  const std::vector<Edge> edges = mesh_edges(vertices.data(), normals.data(), faces.data(), f);
  const int64_t e = static_cast<int64_t>(edges.size());
  carray<int64_t> index({e, int64_t{2}});
  carray<float> weights(e);
  int64_t* ip = index.mutable_data();
  float* wp = weights.mutable_data();
  for (int64_t i = 0; i < e; ++i) {
    ip[2 * i] = edges[i].a;
    ip[2 * i + 1] = edges[i].b;
    wp[i] = edges[i].w;
  }
  return py::make_tuple(index, weights);
}

}  // namespace

void register_segmentator(py::module_& m, py::module_& testing) {
  m.def("mesh_segments", &mesh_segments, py::arg("vertices"), py::arg("faces"),
        py::arg("k_thresh"), py::arg("min_vertices"),
        "(N,) int64 segment ids of ScanNet's mesh segmentator (see folk.ops.superpoints).");
  m.def("graph_segments", &graph_segments, py::arg("num_vertices"), py::arg("edges"),
        py::arg("weights"), py::arg("k_thresh"), py::arg("min_vertices"),
        "(N,) int64 segment ids of Felzenszwalb-Huttenlocher + the small-segment merge on a "
        "weighted graph (see folk.ops.superpoints).");
  m.def("pca_normals", &point_normals, py::arg("points"), py::arg("neighbours"),
        "(N, 3) float32 unit normal of each point: the eigenvector of the smallest eigenvalue "
        "of the covariance of the point and its neighbours (see folk.ops.superpoints).");
  testing.def("mesh_vertex_normals", &vertex_normals, py::arg("vertices"), py::arg("faces"),
              "(N, 3) float32 vertex normals as the segmentator computes them.");
  testing.def("mesh_edges", &edges_of_mesh, py::arg("vertices"), py::arg("faces"),
              "(edges (3F, 2) int64, weights (3F,) float32) of the segmentator's mesh graph.");
}

}  // namespace folk::segmentator
