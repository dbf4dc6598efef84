"""The camera walk: a handheld scan around the room.

The walk is a continuous closed curve s in [0, 1) -> pose, so the layout (which keeps tall
furniture clear of it) does not depend on how many frames are rendered. The camera loops around
the room centre on a wobbly ellipse at 1.2-1.6 m, looks towards the centre (with a slowly
wandering yaw offset so that it also sweeps sideways along the walls), pitched down, with a
small high-frequency shake and roll. Poses are camera-to-world in the ScanNet convention:
camera x right, y down, z forward; world z up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from folk.synthetic.config import SceneConfig


def _terms(rng: np.random.Generator, n: int, amp: float, freqs: tuple[int, int]) -> np.ndarray:
    """(n, 3) rows of (amplitude, integer frequency, phase) for a periodic smooth noise."""
    f = rng.integers(freqs[0], freqs[1] + 1, size=n).astype(np.float64)
    a = amp * rng.uniform(0.5, 1.0, size=n) / np.sqrt(n)
    return np.stack([a, f, rng.uniform(0, 2 * np.pi, size=n)], axis=1)


def _noise(terms: np.ndarray, s: np.ndarray) -> np.ndarray:
    a, f, p = terms[:, 0], terms[:, 1], terms[:, 2]
    return (a[None] * np.sin(2 * np.pi * f[None] * s[:, None] + p[None])).sum(axis=1)


@dataclass
class CameraWalk:
    centre: np.ndarray  # (2,) room centre
    semi: np.ndarray  # (2,) semi axes of the loop at radius factor 1
    theta0: float
    direction: float  # +1 / -1
    loops: float
    radius: float
    radius_range: tuple[float, float]
    radius_terms: np.ndarray
    height: tuple[float, float]
    height_terms: np.ndarray
    yaw_terms: np.ndarray
    pitch: float
    pitch_terms: np.ndarray
    target_terms: np.ndarray  # (2, n, 3): wandering of the look-at point around the centre
    shake_terms: np.ndarray  # (3, n, 3): yaw / pitch / roll shake
    wall_margin: np.ndarray  # (2,) max semi axes keeping the walk off the walls

    def positions(self, s: np.ndarray) -> np.ndarray:
        s = np.asarray(s, dtype=np.float64)
        theta = self.theta0 + self.direction * 2 * np.pi * self.loops * s
        rho = np.clip(self.radius + _noise(self.radius_terms, s), *self.radius_range)
        ax = np.minimum(rho * self.semi[0], self.wall_margin[0])
        ay = np.minimum(rho * self.semi[1], self.wall_margin[1])
        lo, hi = self.height
        z = np.clip(0.5 * (lo + hi) + _noise(self.height_terms, s), lo, hi)
        return np.stack([self.centre[0] + ax * np.cos(theta),
                         self.centre[1] + ay * np.sin(theta), z], axis=1)

    def poses(self, n: int) -> np.ndarray:
        """``(n, 4, 4)`` camera-to-world poses at s = i / n."""
        s = np.arange(n, dtype=np.float64) / max(n, 1)
        pos = self.positions(s)
        target = np.stack([self.centre[0] + _noise(self.target_terms[0], s),
                           self.centre[1] + _noise(self.target_terms[1], s)], axis=1)
        to = target - pos[:, :2]
        yaw = np.arctan2(to[:, 1], to[:, 0]) + _noise(self.yaw_terms, s)
        pitch = self.pitch + _noise(self.pitch_terms, s)
        yaw = yaw + _noise(self.shake_terms[0], s)
        pitch = pitch + _noise(self.shake_terms[1], s)
        roll = _noise(self.shake_terms[2], s)
        fwd = np.stack([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw),
                        np.sin(pitch)], axis=1)
        right = np.cross(fwd, np.array([0.0, 0.0, 1.0]))
        right /= np.linalg.norm(right, axis=1, keepdims=True)
        down = np.cross(fwd, right)
        c, sn = np.cos(roll)[:, None], np.sin(roll)[:, None]
        x = c * right + sn * down
        y = -sn * right + c * down
        out = np.tile(np.eye(4), (n, 1, 1))
        out[:, :3, 0], out[:, :3, 1], out[:, :3, 2], out[:, :3, 3] = x, y, fwd, pos
        return out

    def footprint(self, samples_per_loop: int = 720) -> np.ndarray:
        """Dense (M, 2) samples of the walk's ground track (for keeping furniture clear)."""
        m = int(np.ceil(samples_per_loop * max(self.loops, 1.0)))
        return self.positions(np.arange(m) / m)[:, :2]


def make_walk(cfg: SceneConfig, rng: np.random.Generator,
              size: tuple[float, float, float]) -> CameraWalk:
    X, Y, _ = size
    loops = float(cfg.camera_loops)
    fmax = max(2, round(3 * loops))
    shake = np.radians(cfg.look_jitter_deg)
    return CameraWalk(
        centre=np.array([X / 2, Y / 2]),
        semi=np.array([X / 2, Y / 2]),
        theta0=float(rng.uniform(0, 2 * np.pi)),
        direction=1.0 if rng.random() < 0.5 else -1.0,
        loops=loops,
        radius=float(rng.uniform(*cfg.camera_radius)),
        radius_range=(min(cfg.camera_radius) * 0.8, max(cfg.camera_radius) * 1.1),
        radius_terms=_terms(rng, 3, 0.08, (1, fmax)),
        height=tuple(cfg.camera_height),
        height_terms=_terms(rng, 3, 0.25, (1, fmax + 2)),
        yaw_terms=_terms(rng, 3, np.radians(35), (1, fmax + 1)),
        pitch=float(np.radians(rng.uniform(-28, -20))),
        pitch_terms=_terms(rng, 2, np.radians(8), (1, fmax + 2)),
        target_terms=np.stack([_terms(rng, 3, 0.15 * X, (1, fmax)),
                               _terms(rng, 3, 0.15 * Y, (1, fmax))]),
        shake_terms=np.stack([_terms(rng, 4, shake, (max(1, int(6 * loops)), max(2, int(16 * loops))))
                              for _ in range(3)]),
        wall_margin=np.array([X / 2 - 0.7, Y / 2 - 0.7]),
    )
