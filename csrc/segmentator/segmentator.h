// Superpoints: ScanNet's mesh segmentator (ScanNet/Segmentator, the over-segmentation behind
// every `*.segs.json` of the ScanNet release), written anew. It is Felzenszwalb & Huttenlocher's
// graph segmentation ("Efficient Graph-Based Image Segmentation", IJCV 2004) run on the mesh:
//
//   1. Vertex normals: every face's unit normal, normalize(cross(p2 - p1, p3 - p1)), is blended
//      into its three vertices as a running mean in face order, n <- lerp(n, face, 1/(c + 1))
//      with c the faces seen so far (so a vertex normal is the mean of unit face normals, not
//      renormalised). A face whose normal is not finite (zero area) is left out of the mean;
//      ScanNet's code would turn it into NaN, which makes its sort undefined.
//   2. Edges: three per face f = (i1, i2, i3), in this order: (i1, i2), (i1, i3), (i3, i2), so an
//      edge shared by two faces appears twice. Weight of edge (a, b), in float32:
//        w = 1 - n_a . n_b, squared when n_b . normalize(p_b - p_a) > 0 (a convex crease costs
//        less than a concave one of the same angle).
//   3. Felzenszwalb-Huttenlocher: edges sorted by weight, ties kept in edge order (a stable
//      sort, so the result is defined; ScanNet's std::sort leaves ties unordered); components a
//      and b joined by an edge of weight w when w <= T(a) and w <= T(b), with T = k_thresh for a
//      single vertex and T = w_join + k_thresh / |C| after the join that made C.
//   4. Small segments: one pass over the sorted edges joins the two components of an edge when
//      either has fewer than min_vertices vertices.
//
// Segment ids are 0..S-1, numbered in the order of each segment's smallest vertex index (the
// partition is the algorithm's; ScanNet's files number a segment by one of its vertices).
// The Python wrapper folk/ops/superpoints.py checks every input once.
#pragma once

#include <cstdint>
#include <vector>

namespace pybind11 {
class module_;
}

namespace folk::segmentator {

// A graph edge between vertices a and b with its weight.
struct Edge {
  float w;
  int32_t a;
  int32_t b;
};

// (N * 3) vertex normals of step 1. vertices (N, 3) float32, faces (F, 3) int64 in [0, N).
std::vector<float> mesh_vertex_normals(const float* vertices, int64_t num_vertices,
                                       const int64_t* faces, int64_t num_faces);

// The 3 * F weighted edges of step 2, in face order, from the normals of step 1.
std::vector<Edge> mesh_edges(const float* vertices, const float* normals, const int64_t* faces,
                             int64_t num_faces);

// Steps 3 and 4 on any graph: sorts `edges` stably by weight (in place) and writes the
// segment id of every vertex to labels (N). Edge weights must not be NaN.
void segment_graph(int64_t num_vertices, std::vector<Edge>& edges, float k_thresh,
                   int64_t min_vertices, int64_t* labels);

// The unit eigenvector of the smallest eigenvalue of a symmetric 3x3 matrix, in closed form
// (point_normals.cpp; sign arbitrary).
void smallest_eigenvector(const double cov[3][3], double out[3]);

// (N * 3) PCA normals: for each point, smallest_eigenvector of the covariance of the point and
// its k neighbours (neighbours (N, k) int64 in [0, N)).
void pca_normals(const float* points, int64_t num_points, const int64_t* neighbours, int64_t k,
                 float* normals);

// folk._C.mesh_segments / graph_segments / pca_normals, and folk._C._testing.mesh_vertex_normals /
// mesh_edges (the intermediate float32 values, for the tests against the NumPy reference).
void register_segmentator(pybind11::module_& m, pybind11::module_& testing);

}  // namespace folk::segmentator
