"""RF engines: measurement throughput, and emitter localization against truth and the CRLB.

What is measured:

1. **Throughput** of ``argus.rf.measure.measure_iq`` (Welch PSD, noise floor, SNR, offsets,
   occupied bandwidth, bursts) on one 4 M-sample NFM capture at 2 MS/s, in IQ samples per second
   on one core (BLAS/OpenMP pinned to one thread), best of ``--repeat``. Reference in the same
   run: the textbook Welch loop (one FFT per segment in a Python loop, then the same PSD) —
   the PSD alone, so the ratio understates what the vectorized path does — and
   ``scipy.signal.welch`` (the peer library, PSD alone). Target: >= 20 M/s.
2. **Localization study.** For each trial a random network of 5 receivers around a circle of
   30 km (``random_network``: 50 ns clock jitter, GPS-disciplined LOs ±5 Hz, start offsets up to
   200 µs) and an emitter uniform in the 50 km × 50 km square at its centre (10 m altitude,
   known), 2 MS/s, 5 ms captures at 145 MHz, free-space loss with 4 dB lognormal shadowing;
   ``snr_db`` is the whole-band SNR at the strongest receiver. ``localize(..., alt_m=10)``
   with method ``auto`` (TDOA, RSS or fused as the data allow). Per kind (CW, NFM, 200 kHz
   wideband) and SNR: median, 68 % and 95 % horizontal errors, the median of error / CRLB
   (``crlb_m``, the bound's RMS for the geometry, spectrum, SNRs and clocks), and how often the
   truth falls inside the reported 95 % ellipse (``ellipse95``, the χ²₂(0.95) ellipse of
   ``cov_enu_m2``). The cw rows at different SNRs share their seeds (RSS does not depend on
   the SNR), so they are one sample, not four. Then the wideband emitter at 20 dB with 3–8 receivers.

Targets (issue 13): median error / CRLB <= 1.2, median < 20 m for the wideband emitter at
20 dB, coverage >= 90 %. A 2-D Gaussian error at the bound has median / RMS = 0.83.

Run: ``python benchmarks/bench_rf.py [--quick] [--trials N] [--seed S] [--plot PATH]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from _common import cli

cli.set_blas_threads(1)

import datetime as dt  # noqa: E402
import os  # noqa: E402

import numpy as np  # noqa: E402
from scipy import signal  # noqa: E402

from _common import report  # noqa: E402
from _common.timing import best_median  # noqa: E402
from argus.geo import enu_offsets  # noqa: E402
from argus.rf.locate import LocalizationError, localize  # noqa: E402
from argus.rf.measure import measure_iq  # noqa: E402
from argus.rf.simulate import (  # noqa: E402
    Emitter,
    PathLoss,
    random_emitter_position,
    random_network,
    simulate_acquisition,
)

LAT0, LON0 = 45.07, 7.69
HALF_WIDTH_M = 25e3
RADIUS_M = 30e3
FS = 2e6
FC = 145e6
DURATION_S = 5e-3
SHADOWING_DB = 4.0
CHI2_95 = 5.991464547107979
START = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
TARGET_MSPS = 20.0
TARGET_RATIO = 1.2
TARGET_WIDEBAND_20_M = 20.0
TARGET_COVERAGE = 0.90


def naive_welch(x: np.ndarray, nfft: int = 1024) -> np.ndarray:
    """The reference: Welch's average written as a loop over segments (one FFT each)."""
    w = signal.get_window("hann", nfft)
    hop = nfft // 2
    acc = np.zeros(nfft)
    k = 0
    for start in range(0, x.size - nfft + 1, hop):
        seg = np.fft.fft(x[start : start + nfft] * w)
        acc += np.abs(seg) ** 2
        k += 1
    return np.fft.fftshift(acc / (k * FS * np.sum(w * w)))


def throughput(repeat: int, n: int) -> dict[str, float]:
    em = Emitter(0.0, 0.0, kind="nfm")
    from argus.rf.simulate import envelope_spectrum

    b = np.fft.ifft(envelope_spectrum(em, n, FS, np.random.default_rng(1)))
    rng = np.random.default_rng(2)
    x = (0.1 * b + 0.01 * (rng.standard_normal(n) + 1j * rng.standard_normal(n))).astype(
        np.complex64
    )
    best, _ = best_median(lambda: measure_iq(x, FS), repeat)
    ref, _ = best_median(lambda: naive_welch(x), max(1, repeat // 2))
    peer, _ = best_median(
        lambda: signal.welch(x, FS, nperseg=1024, return_onesided=False, detrend=False), 1
    )
    return {
        "scipy_s": peer,
        "scipy_msps": n / peer / 1e6,
        "samples": n,
        "measure_s": best,
        "naive_s": ref,
        "msps": n / best / 1e6,
        "naive_msps": n / ref / 1e6,
    }


def trial(kind: str, snr_db: float, n_rx: int, seed: int) -> dict[str, float | str]:
    rx = random_network(
        n_rx,
        center_lat_deg=LAT0,
        center_lon_deg=LON0,
        radius_m=RADIUS_M,
        seed=seed,
        clock_sigma_s=50e-9,
    )
    lat, lon = random_emitter_position(
        center_lat_deg=LAT0, center_lon_deg=LON0, half_width_m=HALF_WIDTH_M, seed=seed + 7919
    )
    recs, _ = simulate_acquisition(
        Emitter(lat, lon, alt_m=10.0, kind=kind),  # type: ignore[arg-type]
        rx,
        sample_rate_hz=FS,
        center_frequency_hz=FC,
        duration_s=DURATION_S,
        start=START,
        seed=seed + 104729,
        snr_db=snr_db,
        path_loss=PathLoss(shadowing_db=SHADOWING_DB),
    )
    try:
        loc = localize(recs, alt_m=10.0, clock_sigma_s=50e-9, shadowing_db=SHADOWING_DB)
    except LocalizationError:
        return {"error_m": float("nan"), "ratio": float("nan"), "inside": 0.0, "method": "none"}
    e, n, _ = enu_offsets(loc.lat_deg, loc.lon_deg, lat, lon)
    d = np.array([float(e), float(n)])
    return {
        "error_m": float(np.hypot(*d)),
        "ratio": float(np.hypot(*d)) / loc.crlb_m,
        "inside": float(d @ np.linalg.solve(loc.cov_enu_m2, d) <= CHI2_95),
        "method": loc.method,
        "crlb_m": loc.crlb_m,
    }


def cell(kind: str, snr: float, n_rx: int, trials: int, seed: int) -> dict[str, object]:
    rows = [trial(kind, snr, n_rx, seed + 1000 * k) for k in range(trials)]
    err = np.array([r["error_m"] for r in rows], dtype=float)
    ok = np.isfinite(err)
    ratio = np.array([r["ratio"] for r in rows], dtype=float)[ok]
    methods: dict[str, int] = {}
    for r in rows:
        methods[str(r["method"])] = methods.get(str(r["method"]), 0) + 1
    e = err[ok] if ok.any() else np.array([np.nan])
    return {
        "kind": kind,
        "snr": snr,
        "n_rx": n_rx,
        "n": int(ok.sum()),
        "failed": int((~ok).sum()),
        "median": float(np.median(e)),
        "p68": float(np.percentile(e, 68)),
        "p95": float(np.percentile(e, 95)),
        "ratio": float(np.median(ratio)) if ratio.size else float("nan"),
        "coverage": float(np.mean([r["inside"] for r in rows])),
        "crlb": float(
            np.median([r.get("crlb_m", np.nan) for r in rows if "crlb_m" in r] or [np.nan])
        ),
        "methods": "/".join(f"{k}:{v}" for k, v in sorted(methods.items())),
    }


def plot(snr_cells: list[dict[str, object]], rx_cells: list[dict[str, object]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for kind in ("cw", "nfm", "wideband"):
        cs = [c for c in snr_cells if c["kind"] == kind]
        s = [float(c["snr"]) for c in cs]  # type: ignore[arg-type]
        ax1.semilogy(s, [c["median"] for c in cs], "o-", label=f"{kind} median")
        ax1.semilogy(s, [c["crlb"] for c in cs], "k:", alpha=0.4)
        ax1.fill_between(s, [c["median"] for c in cs], [c["p95"] for c in cs], alpha=0.15)  # type: ignore[misc]
    ax1.set_xlabel("SNR at the strongest receiver (dB, whole band)")
    ax1.set_ylabel("error (m): median, band to p95, dotted CRLB")
    ax1.set_title("5 receivers, 50 km area, 50 ns clocks")
    ax1.legend()
    ax1.grid(True, which="both", alpha=0.3)
    n = [c["n_rx"] for c in rx_cells]
    ax2.semilogy(n, [c["median"] for c in rx_cells], "o-", label="median")
    ax2.semilogy(n, [c["p95"] for c in rx_cells], "s--", label="95th percentile")
    ax2.semilogy(n, [c["crlb"] for c in rx_cells], "k:", label="CRLB (median)")
    ax2.set_xlabel("receivers")
    ax2.set_ylabel("horizontal error (m)")
    ax2.set_title("200 kHz wideband at 20 dB")
    ax2.legend()
    ax2.grid(True, alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> int:
    ap = cli.parser(__doc__)
    ap.add_argument("--quick", action="store_true", help="a short run (fewer trials and SNRs)")
    ap.add_argument(
        "--trials", type=int, default=None, help="emitters per cell (default 40; quick 10)"
    )
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--repeat", type=int, default=5, help="timing repeats (best of)")
    ap.add_argument("--plot", type=Path, default=Path("benchmarks/out/bench_rf.png"))
    args = ap.parse_args()
    trials = args.trials or (10 if args.quick else 40)
    snrs = [0.0, 10.0, 20.0, 30.0] if not args.quick else [10.0, 20.0]
    rx_counts = [3, 4, 5, 6, 8] if not args.quick else [4, 5, 6]
    load0 = os.getloadavg()[0]
    con = report.console(width=170)
    con.print(f"machine: {report.machine()}")

    tp = throughput(args.repeat, 2**22 if not args.quick else 2**20)
    t = report.rich_table(
        "measure_iq throughput (one core)", ["path", "samples", "best ms", "M samples/s"]
    )
    t.add_row(
        "argus measure_iq (full measurement)",
        f"{tp['samples']:.0f}",
        report.ms(tp["measure_s"]),
        f"{tp['msps']:.1f}",
    )
    t.add_row(
        "naive Welch loop (PSD only)",
        f"{tp['samples']:.0f}",
        report.ms(tp["naive_s"]),
        f"{tp['naive_msps']:.1f}",
    )
    t.add_row(
        "scipy.signal.welch (PSD only)",
        f"{tp['samples']:.0f}",
        report.ms(tp["scipy_s"]),
        f"{tp['scipy_msps']:.1f}",
    )
    con.print(t)

    t0, c0 = time.perf_counter(), time.process_time()
    snr_cells = [cell(k, s, 5, trials, args.seed) for k in ("cw", "nfm", "wideband") for s in snrs]
    rx_cells = [cell("wideband", 20.0, n, trials, args.seed + 17) for n in rx_counts]
    study_s, study_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    cols = [
        "kind",
        "SNR dB",
        "rx",
        "n",
        "median m",
        "68 % m",
        "95 % m",
        "CRLB m",
        "median err/CRLB",
        "coverage",
        "methods",
    ]
    t = report.rich_table(
        f"localization, {trials} emitters per row", cols, left=["kind", "methods"]
    )
    for c in snr_cells + rx_cells:
        t.add_row(
            str(c["kind"]),
            f"{c['snr']:.0f}",
            str(c["n_rx"]),
            str(c["n"]),
            f"{c['median']:.1f}",
            f"{c['p68']:.1f}",
            f"{c['p95']:.1f}",
            f"{c['crlb']:.1f}",
            f"{c['ratio']:.2f}",
            f"{c['coverage']:.2f}",
            str(c["methods"]),
        )
    con.print(t)
    plot(snr_cells, rx_cells, args.plot)
    con.print(f"plot: {args.plot.resolve()}")
    con.print(report.load_average(load0) + f"; study {study_s:.0f} s wall, {study_cpu_s:.0f} s CPU")

    all_cells = snr_cells + rx_cells
    ratios = np.array([c["ratio"] for c in all_cells if c["n_rx"] >= 4], dtype=float)
    cov = np.array([c["coverage"] for c in all_cells if c["n_rx"] >= 4], dtype=float)
    wb20 = next(c for c in snr_cells if c["kind"] == "wideband" and c["snr"] == 20.0)
    worst_ratio = float(np.nanmax(ratios))
    worst_cov = float(np.nanmin(cov))
    print(
        report.summary(
            "bench_rf",
            [
                f"measure_iq {tp['msps']:.1f} M samples/s/core ({report.times(tp['msps'] / tp['naive_msps'])} the naive Welch loop's PSD alone, {report.times(tp['msps'] / tp['scipy_msps'])} scipy.signal.welch; target {TARGET_MSPS:.0f}: {report.verdict(tp['msps'] >= TARGET_MSPS)})",
                f"wideband 20 dB median {wb20['median']:.1f} m (target < {TARGET_WIDEBAND_20_M:.0f}: {report.verdict(float(wb20['median']) < TARGET_WIDEBAND_20_M)})",  # type: ignore[arg-type]
                f"median err/CRLB worst cell {worst_ratio:.2f} (target <= {TARGET_RATIO}: {report.verdict(worst_ratio <= TARGET_RATIO)})",
                f"95 % ellipse coverage worst cell {worst_cov:.2f} (target >= {TARGET_COVERAGE}: {report.verdict(worst_cov >= TARGET_COVERAGE)})",
            ],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
