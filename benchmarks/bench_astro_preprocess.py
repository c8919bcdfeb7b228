"""Preprocessing (argus.astro.preprocess) on a simulated pair: each step's wall and CPU time,
as ratios against references measured in the same run — the subtraction it precedes
(``subtract_images``) and reproject's own resampling of the reference (``reproject_interp``).
Also the figures of merit: registration RMS, the recovered WCS error, cosmic-ray recall.

    PYTHONPATH=src python benchmarks/bench_astro_preprocess.py [--size 1024]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from astropy.wcs import WCS

from argus.astro.difference import subtract_images
from argus.astro.preprocess import (
    calibrate,
    estimate_background,
    mask_cosmic_rays,
    register_reference,
    with_wcs,
)
from argus.astro.simulate import simulate_pair


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    pair = simulate_pair(a.size, seed=a.seed)
    rng = np.random.default_rng(0)
    bias = 300 + rng.random(pair.new.shape)
    flat = 0.9 + 0.2 * rng.random(pair.new.shape)
    dark = 5 * rng.random(pair.new.shape)
    raw = pair.new * flat + bias + dark * 0.2
    rows: list[tuple[str, float, float]] = []

    _, w, c = timed(
        lambda: calibrate(raw, bias=bias, dark=dark, dark_exptime_s=300, exptime_s=60, flat=flat)
    )
    rows.append(("calibrate (bias, dark, flat)", w, c))
    cr, w, c = timed(lambda: mask_cosmic_rays(pair.new, gain=1.6, read_noise_e=6.0, saturate=6e4))
    rows.append(("L.A.Cosmic (astroscrappy, 4 iterations)", w, c))
    _, w, c = timed(lambda: estimate_background(pair.new, mask=cr.mask))
    rows.append(("background (sep)", w, c))
    wrong_w = WCS(pair.ref_header)
    wrong_w.wcs.crpix = wrong_w.wcs.crpix + np.array([0.37, -0.21])
    wrong = with_wcs(pair.ref_header, wrong_w)
    reg, w, c = timed(
        lambda: register_reference(pair.new, pair.new_header, pair.ref, wrong, resample=False)
    )
    rows.append(("registration fit (stars, match, affine)", w, c))
    _, w_rs, c_rs = timed(
        lambda: register_reference(pair.new, pair.new_header, pair.ref, wrong, resample=True)
    )
    rows.append(("registration fit + reproject resampling", w_rs, c_rs))

    from reproject import reproject_interp

    _, w_rp, c_rp = timed(
        lambda: reproject_interp(
            (pair.ref, WCS(pair.ref_header)), WCS(pair.new_header), shape_out=pair.new.shape,
            order="bilinear",
        )
    )  # fmt: skip
    _, w_sub, c_sub = timed(
        lambda: subtract_images(pair.new, pair.new_header, pair.ref, pair.ref_header)
    )
    load = os.getloadavg()
    print(f"size {a.size} x {a.size}, seed {a.seed}; load average {load[0]:.2f} {load[1]:.2f}")
    print(f"{'step':45s} {'wall s':>8s} {'cpu s':>8s} {'/ subtract (cpu)':>17s}")
    for name, w, c in rows:
        print(f"{name:45s} {w:8.3f} {c:8.3f} {c / c_sub:17.3f}")
    print(f"{'reference: subtract_images (ZOGY)':45s} {w_sub:8.3f} {c_sub:8.3f} {1.0:17.3f}")
    print(f"{'reference: reproject_interp alone':45s} {w_rp:8.3f} {c_rp:8.3f} {c_rp / c_sub:17.3f}")
    pre_cpu = sum(c for n, _, c in rows[:4])
    print(
        f"preprocessing (calibrate + CR + background + fit) / subtract, CPU: {pre_cpu / c_sub:.2f}"
    )
    print(
        f"registration: rms {reg.rms_px:.4f} px after the fit ({reg.rms_wcs_px:.4f} px with the "
        f"perturbed header), {reg.n_matched} stars, recovered shift ({reg.shift_px[0]:.4f}, "
        f"{reg.shift_px[1]:.4f}) px for injected (0.37, -0.21)"
    )
    crt = pair.truth_of("cosmic_ray")
    from scipy.ndimage import binary_dilation

    near = binary_dilation(cr.mask, iterations=1)  # a track's centre may fall between pixels
    hit = near[np.rint(crt["y"]).astype(int), np.rint(crt["x"]).astype(int)].mean()
    print(f"cosmic rays: {hit:.1%} of the simulator's tracks masked within 1 px of their centre; "
          f"{cr.n_pixels} pixels masked ({cr.n_pixels / cr.mask.size:.2e} of the image)")  # fmt: skip


if __name__ == "__main__":
    main()
