"""``folk view``'s web viewer, built on viser: the scene's points coloured by predicted
instance (or by GT instance, a toggle), a legend, and a text box. A phrase typed there scores
every instance live (:mod:`folk.show.live_query`): the points take the similarity ramp's
colours and the best matches are labelled with their name and similarity. Works on a headless
server: the page is served over HTTP (viser's client is bundled in its wheel, nothing is
fetched from the internet)."""

from __future__ import annotations

import contextlib
import html
import sys
import threading
import time
from collections.abc import Callable

import numpy as np

from folk.errors import FolkError
from folk.show.live_query import best_matches, query_point_colors, similarities
from folk.show.palette import palette_color
from folk.show.scene_ply import SIMILARITY_RAMP
from folk.show.view_scene import ViewScene

#: The colourings the toggle offers.
PREDICTION, GROUND_TRUTH = "prediction", "ground truth"

#: How many legend entries are listed (the rest are summarised in one line).
LEGEND_ENTRIES = 40


def _swatch(rgb) -> str:
    r, g, b = (int(c) for c in rgb)
    return (f'<span style="display:inline-block;width:0.9em;height:0.9em;margin-right:0.4em;'
            f'background:rgb({r},{g},{b})"></span>')


def legend_html(names: tuple[str, ...], colors: list[tuple[int, int, int]]) -> str:
    """An HTML legend: a colour swatch and a name per instance."""
    rows = [f"<div>{_swatch(c)}{html.escape(n)}</div>"
            for n, c in zip(names[:LEGEND_ENTRIES], colors[:LEGEND_ENTRIES], strict=False)]
    if len(names) > LEGEND_ENTRIES:
        rows.append(f"<div>… and {len(names) - LEGEND_ENTRIES} more</div>")
    return "<div style='font-size:0.8em'>" + "".join(rows) + "</div>"


def ramp_legend_html(similarity: np.ndarray, order: np.ndarray, names: tuple[str, ...]) -> str:
    """The legend of a query: the ramp's ends and the best matches with their similarity."""
    stops = ",".join(f"rgb({r},{g},{b})" for r, g, b in SIMILARITY_RAMP)
    bar = (f"<div style='height:0.8em;background:linear-gradient(to right,{stops})'></div>"
           f"<div style='display:flex;justify-content:space-between'>"
           f"<span>{similarity.min():.3f}</span><span>{similarity.max():.3f}</span></div>")
    rows = [f"<div>{k + 1}. {html.escape(names[i])}: {similarity[i]:.3f}</div>"
            for k, i in enumerate(order)]
    return "<div style='font-size:0.8em'>" + bar + "".join(rows) + "</div>"


class Viewer:
    """A viser server showing one :class:`~folk.show.view_scene.ViewScene`; ``encode`` turns
    a phrase into a text embedding (:class:`folk.show.live_query.PhraseEncoder`; its
    ``caution(phrase)``, when it has one, is shown under the query's status line)."""

    def __init__(self, view: ViewScene, encode: Callable[[str], np.ndarray], *,
                 host: str = "127.0.0.1", port: int = 8080, point_size: float | None = None):
        import viser

        self.view, self.encode = view, encode
        self._lock = threading.Lock()
        with contextlib.redirect_stdout(sys.stderr):  # viser's banner: stdout keeps the URL
            self.server = viser.ViserServer(host=host, port=port, verbose=False)
        self.server.scene.set_up_direction("+z")
        points = view.scene.points
        lo, hi = points.min(axis=0), points.max(axis=0)
        size = float(np.linalg.norm(hi - lo)) or 1.0
        center = (lo + hi) / 2
        self.server.initial_camera.look_at = tuple(float(v) for v in center)
        self.server.initial_camera.position = tuple(
            float(v) for v in center + np.array([0.35, -0.6, 0.55]) * size)
        self.cloud = self.server.scene.add_point_cloud(
            "/scene", points.astype(np.float32), view.pred_colors,
            point_size=point_size or size / (2 * np.sqrt(len(points))), point_shape="square", point_shading="flat")
        self._labels: list = []
        gui = self.server.gui
        self.query_box = gui.add_text("query", initial_value="",
                                      hint="type a phrase: every instance is scored live")
        self.status = gui.add_markdown("")
        choices = (PREDICTION, GROUND_TRUTH) if view.gt_colors is not None else (PREDICTION,)
        self.coloring = gui.add_dropdown("colours", choices, initial_value=PREDICTION)
        self.legend = gui.add_html(self._instance_legend(PREDICTION))
        self.query_box.on_update(lambda _: self.show_query(self.query_box.value))
        self.coloring.on_update(lambda _: self.show_query(self.query_box.value))

    @property
    def url(self) -> str:
        host = self.server.get_host()
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{shown}:{self.server.get_port()}"

    def _instance_legend(self, coloring: str) -> str:
        v = self.view
        if coloring == GROUND_TRUTH:
            owner_colors = self._first_colors(v.gt_colors, v.gt_owner)
            return legend_html(v.gt_names, owner_colors)
        return legend_html(v.instances.names,
                           self._first_colors(v.pred_colors, v.instances.owner))

    @staticmethod
    def _first_colors(colors: np.ndarray, owner: np.ndarray) -> list[tuple[int, int, int]]:
        """The colour each instance is drawn in (grey for one hidden under others)."""
        count = int(owner.max()) + 1 if owner.size else 0
        out = [palette_color(0)] * count
        seen = np.full(count, False)
        for k in range(count):
            where = np.flatnonzero(owner == k)
            if where.size:
                out[k], seen[k] = tuple(int(c) for c in colors[where[0]]), True
        return out

    def show_query(self, phrase: str) -> float:
        """Colour the scene by similarity to ``phrase`` (by instance when it is empty);
        returns the seconds it took. Errors are shown in the status line, not raised."""
        start = time.perf_counter()
        with self._lock:
            for label in self._labels:
                label.remove()
            self._labels = []
            if not phrase.strip():
                self.cloud.colors = (self.view.gt_colors if self.coloring.value == GROUND_TRUTH
                                     else self.view.pred_colors)
                self.legend.content = self._instance_legend(self.coloring.value)
                self.status.content = ""
                return time.perf_counter() - start
            try:
                sim = similarities(self.view.instances, self.encode(phrase))
            except FolkError as exc:
                self.status.content = f"**{html.escape(str(exc))}**"
                return time.perf_counter() - start
            self.cloud.colors = query_point_colors(self.view.instances, sim,
                                                   self.view.background)
            order = best_matches(sim)
            inst = self.view.instances
            for rank, i in enumerate(order):
                self._labels.append(self.server.scene.add_label(
                    f"/matches/{rank}", f"{inst.names[i]} {sim[i]:.2f}",
                    position=tuple(float(c) for c in inst.centers[i])))
            self.legend.content = ramp_legend_html(sim, order, inst.names)
            elapsed = time.perf_counter() - start
            status = f"'{html.escape(phrase.strip())}': {len(sim)} instances scored in " \
                     f"{elapsed * 1000:.0f} ms"
            caution = getattr(self.encode, "caution", lambda _: None)(phrase)
            if caution:
                status += f"  \n**warning:** {html.escape(caution)}"
            self.status.content = status
            return elapsed

    def serve_forever(self) -> None:
        """Block until Ctrl-C, then stop the server."""
        try:
            while True:
                time.sleep(3600)
        finally:
            self.server.stop()
