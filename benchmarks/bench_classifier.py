"""Track classifier: held-out accuracy on simulated tracks, against rule-based and majority baselines.

What is measured:

1. ``argus.scenario.training.simulate_training_tracks`` makes ``--n`` windows per class
   (ballistic missile, cruise missile, aircraft, drone, clutter; K = ``--window`` updates) with
   seed ``--seed`` for training and another ``--n`` per class with seed ``--seed + 1`` for the
   held-out test (other geometry, other noise, other false alarms): flown with the catalogue's
   physics, seen by the example raid's S-band radar, tracked by the real tracker.
2. ``argus.defense.classify.train`` fits the HistGradientBoosting model (default) and the
   random forest on ``features(window)``; both are scored on the held-out set.
3. References measured in the same run on the same test set: the majority class (20 %, the
   classes are balanced) and a rule-based classifier on mean speed, altitude and RCS (the
   thresholds an operator would write: > 700 m/s or > 25 km high → ballistic; < 25 m/s →
   clutter; < 120 m/s → drone; RCS > -5 dBsm → aircraft; else cruise missile if below 1 km,
   else aircraft).

Printed: the confusion matrix of the chosen model (rows true, columns predicted), per-class
precision and recall, accuracy of every model, wall times, and one summary line.

Target (issue 11): >= 95 % held-out accuracy over the five classes.

Run: ``python benchmarks/bench_classifier.py [--n 1000] [--seed 11] [--window 16]``
"""

from __future__ import annotations

import sys
import time

import numpy as np
import numpy.typing as npt
import sklearn

from _common import cli, report
from argus.defense.classify import (
    CLASSES,
    FEATURE_NAMES,
    ClassifierMetrics,
    evaluate,
    features,
    metrics_from_labels,
    train,
)
from argus.scenario.training import simulate_training_tracks

SHORT = {
    "ballistic_missile": "ballistic",
    "cruise_missile": "cruise",
    "aircraft": "aircraft",
    "drone": "drone",
    "clutter": "clutter",
}


def rule_based(x: npt.NDArray[np.float64]) -> npt.NDArray[np.str_]:
    """The reference: thresholds on mean speed, mean altitude and mean RCS."""
    col = {n: j for j, n in enumerate(FEATURE_NAMES)}
    speed = x[:, col["speed_mean_mps"]]
    alt = x[:, col["alt_mean_m"]]
    rcs = np.nan_to_num(x[:, col["rcs_mean_dbsm"]], nan=-10.0)
    out = np.where(
        (speed > 700) | (alt > 25_000),
        "ballistic_missile",
        np.where(
            speed < 25,
            "clutter",
            np.where(
                speed < 120,
                "drone",
                np.where(rcs > -5, "aircraft", np.where(alt < 1000, "cruise_missile", "aircraft")),
            ),
        ),
    )
    return np.asarray(out, dtype=np.str_)


def _pct(x: float) -> str:
    return "—" if np.isnan(x) else f"{100 * x:.1f}"


def main() -> int:
    ap = cli.parser(__doc__, full_doc=True)
    ap.add_argument("--n", type=int, default=1000, help="windows per class (train and test each)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--window", type=int, default=16)
    args = ap.parse_args()
    load0 = __import__("os").getloadavg()[0]
    print(f"# bench_classifier  {args.n} windows per class, K = {args.window}, seed {args.seed}")
    print(f"# machine: {report.machine(f'scikit-learn {sklearn.__version__}')}")

    t0 = time.perf_counter()
    w_train, y_train = simulate_training_tracks(args.n, args.seed, window=args.window)
    t_sim = time.perf_counter() - t0
    w_test, y_test = simulate_training_tracks(args.n, args.seed + 1, window=args.window)
    t1 = time.perf_counter()
    x_train = features(w_train)
    x_test = features(w_test)
    t_feat = time.perf_counter() - t1

    results: list[tuple[str, ClassifierMetrics, float]] = []
    chosen = None
    for kind in ("hist_gradient_boosting", "random_forest"):
        t2 = time.perf_counter()
        model = train(x_train, y_train, seed=args.seed, kind=kind)
        t_fit = time.perf_counter() - t2
        results.append((kind, evaluate(model, x_test, y_test), t_fit))
        if chosen is None:
            chosen = results[-1][1]
    assert chosen is not None
    majority = np.full(y_test.size, CLASSES[0])
    results.append(("majority class", metrics_from_labels(y_test, majority), 0.0))
    results.append(
        ("rule-based speed/alt/RCS", metrics_from_labels(y_test, rule_based(x_test)), 0.0)
    )

    print(
        f"# simulated {w_train.size} training windows in {t_sim:.1f} s, features of "
        f"{w_train.size + w_test.size} windows in {report.ms(t_feat)} ms"
    )
    print()
    print("confusion matrix, hist_gradient_boosting (rows: true class, columns: predicted)")
    cm = report.PipeTable([("true \\ predicted", 16)] + [(SHORT[c], 9) for c in CLASSES] + [("recall %", 8), ("precision %", 11)], left=1)  # fmt: skip
    print(cm.header())
    for i, c in enumerate(CLASSES):
        print(
            cm.row(
                [SHORT[c]]
                + [str(v) for v in chosen.confusion[i]]
                + [_pct(chosen.recall[i]), _pct(chosen.precision[i])]
            )
        )
    print()
    tab = report.PipeTable([("model", 26), ("accuracy %", 10), ("worst recall %", 14), ("fit s", 6)], left=1)  # fmt: skip
    print(tab.header())
    for name, m, fit in results:
        worst = np.nanmin(m.recall)
        print(tab.row([name, _pct(m.accuracy), _pct(worst), f"{fit:.1f}" if fit else "—"]))
    print()
    rule = results[3][1]
    print(report.load_average(load0))
    print(
        report.summary(
            "bench_classifier",
            [
                f"held-out accuracy {_pct(chosen.accuracy)} % (HGB) vs {_pct(results[1][1].accuracy)} % "
                f"(forest), {_pct(rule.accuracy)} % rule-based, {_pct(results[2][1].accuracy)} % majority",
                f"worst recall {_pct(float(np.nanmin(chosen.recall)))} %",
                f"target >= 95 %: {report.verdict(chosen.accuracy >= 0.95)}",
                f"{args.n} windows/class simulated in {t_sim:.0f} s",
            ],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
