"""Pictures of folk's results, made without a display or a GPU: a point-splatting z-buffer
renderer (:mod:`folk.show.render`), instance colours shared between prediction and ground
truth (:mod:`folk.show.palette`), the per-scene picture (:mod:`folk.show.scene_picture`), one
proposal's teacher views (:mod:`folk.show.teacher_views`) and coloured PLY files
(:mod:`folk.show.scene_ply`). ``folk show`` (:mod:`folk.show.cli`) drives them."""
