"""Threat score: the guide's behaviours, exact numbers, parameters, presets, ranking, properties."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from argus.defaults import DEFAULT_MODEL_PARAMS
from argus.tewa.kinematics import pair_kinematics
from argus.tewa.presets import DOCTRINE_PRESETS, PRESET_NAMES
from argus.tewa.scoring import (
    LogisticRamp,
    ThreatModelParams,
    coerce_params,
    normalize_inverse,
    normalize_logistic,
    params_from_preset,
    rank_threats,
    score_components_to_threat,
    score_pairs,
    threat_score_reference,
    threat_scores,
)

ONLY_CPA = {"w_cpa": 1.0, "w_tcpa": 0.0, "w_tdb": 0.0, "w_twrp": 0.0}
ONLY_TCPA = {"w_cpa": 0.0, "w_tcpa": 1.0, "w_tdb": 0.0, "w_twrp": 0.0}


# ---------------------------------------------------------------- exact numbers


def test_defaults_at_zero_and_at_the_scales() -> None:
    # Default weights sum to 1: all-zero components are fully urgent, all-at-scale half urgent.
    assert score_components_to_threat(0.0, 0.0, 0.0, 0.0) == pytest.approx(1.0, abs=1e-15)
    assert score_components_to_threat(10.0, 300.0, 25.0, 180.0) == pytest.approx(0.5, abs=1e-15)
    # One hand-computed mixed case: 0.35/(1+5/10) + 0.25/(1+60/300) + 0.25/(1+0) + 0.15/(1+90/180).
    expected = 0.35 / 1.5 + 0.25 / 1.2 + 0.25 + 0.15 / 1.5
    assert score_components_to_threat(5.0, 60.0, 0.0, 90.0) == pytest.approx(expected, abs=1e-15)
    assert expected == pytest.approx(0.7916666666666666)


def test_normalize_inverse() -> None:
    got = normalize_inverse([0.0, 10.0, 30.0, -1.0, np.nan, np.inf, -np.inf], 10.0)
    np.testing.assert_array_equal(got, [1.0, 0.5, 0.25, 0.0, 0.0, 0.0, 0.0])


def test_negative_tcpa_lowers_the_score_by_its_whole_term() -> None:
    ahead = score_components_to_threat(5.0, 60.0, 10.0, 30.0)
    behind = score_components_to_threat(5.0, -60.0, 10.0, 30.0)
    assert behind < ahead
    assert ahead - behind == pytest.approx(0.25 / (1 + 60 / 300), abs=1e-15)


def test_weights_change_the_ranking() -> None:
    near_late = (1.0, 600.0, 20.0, 400.0)  # passes close, but in 10 minutes
    far_soon = (30.0, 30.0, 20.0, 400.0)  # passes wide, but now
    by_cpa = [score_components_to_threat(*c, ONLY_CPA) for c in (near_late, far_soon)]
    by_tcpa = [score_components_to_threat(*c, ONLY_TCPA) for c in (near_late, far_soon)]
    assert by_cpa == pytest.approx([1 / 1.1, 0.25])
    assert by_tcpa == pytest.approx([1 / 3, 1 / 1.1])
    assert by_cpa[0] > by_cpa[1] and by_tcpa[1] > by_tcpa[0]


def test_unclamped_scores_exceed_one_and_are_linear_in_the_weights() -> None:
    heavy = {"w_cpa": 1.0, "w_tcpa": 1.0, "w_tdb": 1.0, "w_twrp": 1.0, "clamp_0_1": False}
    assert score_components_to_threat(0, 0, 0, 0, heavy) == pytest.approx(4.0)
    assert score_components_to_threat(10, 300, 25, 180, heavy) == pytest.approx(2.0)
    assert score_components_to_threat(0, 0, 0, 0, {**heavy, "clamp_0_1": True}) == 1.0
    half = {**heavy, "w_tcpa": 0.5}
    assert score_components_to_threat(0, 0, 0, 0, half) == pytest.approx(3.5)


def test_far_and_late_scores_low() -> None:
    s = score_components_to_threat(10_000.0, 1e6, 10_000.0, 1e6)
    expected = 0.35 / 1001 + 0.25 / (1 + 1e6 / 300) + 0.25 / 401 + 0.15 / (1 + 1e6 / 180)
    assert s == pytest.approx(expected, rel=1e-12)
    assert s < 2e-3


def test_missing_params_fall_back_to_defaults() -> None:
    # Only weights given: the CPA scale is the default 10 km, so CPA = 10 km is half urgent.
    assert score_components_to_threat(10.0, None, None, None, ONLY_CPA) == pytest.approx(0.5)
    p = coerce_params(ONLY_CPA)
    assert p.cpa_scale_km == DEFAULT_MODEL_PARAMS["cpa_scale_km"]
    assert p.clamp_0_1 is DEFAULT_MODEL_PARAMS["clamp_0_1"]
    assert coerce_params({}) == coerce_params(None) == ThreatModelParams()
    assert coerce_params({"w_cpa": None}).w_cpa == DEFAULT_MODEL_PARAMS["w_cpa"]


def test_no_weapon_opportunity_gives_finite_score_and_infinite_twrp() -> None:
    # A receding track: TWRP = +inf from the kinematics, zero TWRP urgency, score still finite.
    k = pair_kinematics(0.0, 0.5, 250.0, 90.0, 0.0, 0.0)
    s = score_pairs(k)
    assert s.twrp_s[0, 0] == math.inf
    assert s.n_twrp[0, 0] == 0.0
    assert s.n_tcpa[0, 0] == 0.0  # closest point is behind it
    assert np.isfinite(s.score[0, 0])
    d = float(k.cpa_km[0, 0])
    assert s.score[0, 0] == pytest.approx(0.35 / (1 + d / 10) + 0.25 / (1 + d / 25), rel=1e-12)


def test_bad_inputs_contribute_zero() -> None:
    assert score_components_to_threat(None, None, None, None) == 0.0
    assert score_components_to_threat(math.nan, -math.inf, math.inf, -5.0) == 0.0
    only_cpa_valid = score_components_to_threat(0.0, math.nan, None, math.inf)
    assert only_cpa_valid == pytest.approx(0.35)
    arr = threat_scores(np.array([0.0, None], dtype=object), 0.0, 0.0, 0.0)
    np.testing.assert_allclose(arr.score, [1.0, 0.65])
    assert np.isnan(arr.cpa_km[1])


def test_output_keeps_raw_and_normalized_components() -> None:
    s = threat_scores([5.0, 20.0], [60.0, -10.0], [0.0, 50.0], [np.inf, 90.0])
    np.testing.assert_array_equal(s.cpa_km, [5.0, 20.0])
    np.testing.assert_array_equal(s.tcpa_s, [60.0, -10.0])
    np.testing.assert_array_equal(s.twrp_s, [np.inf, 90.0])
    np.testing.assert_allclose(s.n_cpa, [1 / 1.5, 1 / 3])
    np.testing.assert_allclose(s.n_tcpa, [1 / 1.2, 0.0])
    np.testing.assert_allclose(s.n_tdb, [1.0, 1 / 3])
    np.testing.assert_allclose(s.n_twrp, [0.0, 1 / 1.5])
    np.testing.assert_allclose(
        s.score, 0.35 * s.n_cpa + 0.25 * s.n_tcpa + 0.25 * s.n_tdb + 0.15 * s.n_twrp
    )
    assert s.shape == (2,)


def test_track_quality_scales_the_score() -> None:
    base = threat_scores(5.0, 60.0, 0.0, 90.0).score
    assert threat_scores(5.0, 60.0, 0.0, 90.0, track_quality=0.5).score == pytest.approx(0.5 * base)
    assert threat_scores(5.0, 60.0, 0.0, 90.0, track_quality=0.0).score == 0.0
    with pytest.raises(ValueError, match="track_quality must be in \\[0, 1\\]"):
        threat_scores(1.0, 1.0, 1.0, 1.0, track_quality=1.5)
    with pytest.raises(ValueError, match="track_quality"):
        threat_scores(1.0, 1.0, 1.0, 1.0, track_quality=np.nan)
    # Per-track quality broadcasts across every asset of that track.
    k = pair_kinematics(
        [0.0, 0.0], [0.2, 0.3], [200.0, 200.0], [270.0, 270.0], [0.0, 0.1, 0.2], [0.0, 0.0, 0.0]
    )
    full, graded = score_pairs(k), score_pairs(k, track_quality=[1.0, 0.25])
    np.testing.assert_allclose(graded.score[0], full.score[0])
    np.testing.assert_allclose(graded.score[1], 0.25 * full.score[1])


# ---------------------------------------------------------------- logistic


def test_logistic_normalization() -> None:
    got = normalize_logistic([0.0, 5.0, 10.0, 1e308, -1.0, np.nan, np.inf], midpoint=5.0, width=1.0)
    np.testing.assert_allclose(
        got[:3], [1 / (1 + math.exp(-5)), 0.5, 1 / (1 + math.exp(5))], rtol=1e-15
    )
    np.testing.assert_array_equal(got[3:], [0.0, 0.0, 0.0, 0.0])


def test_logistic_is_overflow_free(recwarn: pytest.WarningsRecorder) -> None:
    got = normalize_logistic([0.0, 1e6], midpoint=1e5, width=1e-3)  # exponents ±1e8
    np.testing.assert_array_equal(got, [1.0, 0.0])
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_logistic_in_params_replaces_the_inverse_ramp() -> None:
    params = {**ONLY_CPA, "cpa_logistic": (5.0, 1.0)}
    assert score_components_to_threat(5.0, 0, 0, 0, params) == pytest.approx(0.5)
    assert score_components_to_threat(0.0, 0, 0, 0, params) == pytest.approx(1 / (1 + math.exp(-5)))
    mapping = coerce_params({"tdb_logistic": {"midpoint": 2.0, "width": 0.5}})
    assert mapping.tdb_logistic == LogisticRamp(2.0, 0.5)
    with pytest.raises(ValueError, match="width must be finite and > 0"):
        coerce_params({"cpa_logistic": (5.0, 0.0)})


@pytest.mark.parametrize(
    "ramp",
    [{}, {"midpoint": 1.0}, {"width": 1.0}, {"midpoint": 1.0, "width": 1.0, "x": 2.0}, {"a": 1}],
)
def test_a_logistic_mapping_needs_exactly_midpoint_and_width(ramp: dict[str, float]) -> None:
    # Found by the schemathesis fuzz: a mapping without "midpoint" was a KeyError (a 500 from
    # PUT /api/scenarios/{id}/params); it is a ValueError naming the field (a 422).
    with pytest.raises(ValueError, match="tcpa_logistic must have exactly the keys midpoint"):
        coerce_params({"tcpa_logistic": ramp})


def test_a_logistic_mapping_with_a_non_number_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="cpa_logistic: "):
        coerce_params({"cpa_logistic": {"midpoint": "x", "width": 1.0}})


# ---------------------------------------------------------------- parameters


def test_params_from_an_object_with_attributes_like_an_orm_row() -> None:
    row = SimpleNamespace(
        id=7,
        scenario_id=3,
        w_cpa=0.5,
        w_tcpa=0.5,
        w_tdb=0.0,
        w_twrp=0.0,
        cpa_scale_km=2.0,
        clamp_0_1=False,
    )
    p = coerce_params(row)
    assert (p.w_cpa, p.w_tcpa, p.cpa_scale_km, p.clamp_0_1) == (0.5, 0.5, 2.0, False)
    assert p.tcpa_scale_s == DEFAULT_MODEL_PARAMS["tcpa_scale_s"]  # attribute missing on the row
    assert score_components_to_threat(2.0, 300.0, None, None, row) == pytest.approx(
        0.5 * 0.5 + 0.5 * 0.5
    )


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"w_cpa": 1.5}, "w_cpa must be in \\[0, 1\\]"),
        ({"w_tdb": -0.1}, "w_tdb must be in \\[0, 1\\]"),
        ({"tcpa_scale_s": 0.0}, "tcpa_scale_s must be finite and > 0"),
        ({"cpa_scale_km": math.inf}, "cpa_scale_km must be finite and > 0"),
        ({"twrp_scale_s": "soon"}, "twrp_scale_s must be a number"),
        ({"weapon_range_km": -1.0}, "weapon_range_km must be >= 0"),
    ],
)
def test_invalid_params_name_the_field(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        coerce_params(bad)


def test_overrides_and_unknown_keys() -> None:
    p = coerce_params({"w_cpa": 0.1}, w_cpa=0.9)
    assert p.w_cpa == 0.9
    assert p.with_changes(w_tdb=0.0).w_tdb == 0.0
    with pytest.raises(ValueError, match="unknown model parameter\\(s\\): w_speed"):
        coerce_params(None, w_speed=1.0)
    assert coerce_params({"not_a_param": 1}).w_cpa == DEFAULT_MODEL_PARAMS["w_cpa"]  # ignored


def test_presets() -> None:
    assert set(PRESET_NAMES) == {"default", "point-defense", "area-defense", "ballistic"}
    assert params_from_preset("default") == coerce_params(DEFAULT_MODEL_PARAMS)
    pd = params_from_preset("point-defense")
    assert (pd.cpa_scale_km, pd.weapon_range_km) == (2.0, 8.0)
    assert params_from_preset("ballistic", clamp_0_1=False).clamp_0_1 is False
    for name in PRESET_NAMES:
        p = params_from_preset(name)
        assert sum(p.weights) == pytest.approx(1.0)
        assert set(DOCTRINE_PRESETS[name]) <= set(DEFAULT_MODEL_PARAMS)
    with pytest.raises(
        ValueError, match="unknown preset 'naval'; known presets: default, point-defense"
    ):
        params_from_preset("naval")
    # A track passing 15 km away in two minutes: minor for point defence, serious for area defence.
    wide = (15.0, 120.0, 20.0, 60.0)
    assert score_components_to_threat(*wide, params_from_preset("point-defense")) < 0.3
    assert score_components_to_threat(*wide, params_from_preset("area-defense")) > 0.6


# ---------------------------------------------------------------- ranking


def test_rank_threats_global_and_per_asset() -> None:
    score = np.array(
        [
            [0.2, 0.9],
            [0.5, 0.1],
            [np.nan, 0.3],
            [0.5, 0.0],
        ]
    )
    g = rank_threats(score)
    np.testing.assert_array_equal(g.track_index, [0, 1, 3, 2])
    np.testing.assert_array_equal(g.da_index, [1, 0, 0, 1])
    np.testing.assert_allclose(g.score, [0.9, 0.5, 0.5, 0.3])
    np.testing.assert_array_equal(g.rank, [1, 2, 3, 4])
    top = rank_threats(score, top_n=2, per_asset=True)
    np.testing.assert_array_equal(top.da_index, [0, 0, 1, 1])
    np.testing.assert_array_equal(top.track_index, [1, 3, 0, 2])  # tie 0.5: lower index first
    np.testing.assert_array_equal(top.rank, [1, 2, 1, 2])
    np.testing.assert_allclose(top.score, [0.5, 0.5, 0.9, 0.3])
    last = rank_threats(score, per_asset=True)
    assert last.track_index[3] == 2 and np.isnan(last.score[3])  # NaN ranks last
    with pytest.raises(ValueError, match="2-D"):
        rank_threats(np.zeros(3))


# ---------------------------------------------------------------- properties

finite_or_odd = st.one_of(
    st.floats(-1e3, 1e7, allow_nan=False),
    st.sampled_from([math.inf, -math.inf, math.nan, 0.0]),
)
param_strategy = st.fixed_dictionaries(
    {
        "w_cpa": st.floats(0, 1),
        "w_tcpa": st.floats(0, 1),
        "w_tdb": st.floats(0, 1),
        "w_twrp": st.floats(0, 1),
        "cpa_scale_km": st.floats(1e-3, 1e4),
        "tcpa_scale_s": st.floats(1e-3, 1e5),
        "tdb_scale_km": st.floats(1e-3, 1e4),
        "twrp_scale_s": st.floats(1e-3, 1e5),
        "clamp_0_1": st.booleans(),
        "tcpa_logistic": st.one_of(
            st.none(), st.tuples(st.floats(-1e3, 1e4), st.floats(1e-2, 1e3))
        ),
    }
)


@settings(max_examples=300, deadline=None)
@given(
    comps=st.lists(
        st.tuples(finite_or_odd, finite_or_odd, finite_or_odd, finite_or_odd),
        min_size=1,
        max_size=20,
    ),
    params=param_strategy,
)
def test_vectorized_equals_scalar_reference(
    comps: list[tuple[float, float, float, float]], params: dict[str, Any]
) -> None:
    arr = np.array(comps, dtype=float)
    q = np.linspace(0.0, 1.0, len(comps))
    got = threat_scores(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], params, track_quality=q).score
    for i, c in enumerate(comps):
        ref = threat_score_reference(*c, params, track_quality=float(q[i]))
        assert abs(got[i] - ref) <= 1e-12


@settings(max_examples=300, deadline=None)
@given(
    base=st.tuples(*[st.floats(0, 1e6)] * 4),
    which=st.integers(0, 3),
    bump=st.floats(0, 1e6),
    params=param_strategy,
)
def test_score_is_monotone_non_increasing_in_each_component(
    base: tuple[float, ...], which: int, bump: float, params: dict[str, Any]
) -> None:
    bigger = list(base)
    bigger[which] = base[which] + bump
    assume(bigger[which] >= base[which])
    lo = score_components_to_threat(base[0], base[1], base[2], base[3], params)
    hi = score_components_to_threat(bigger[0], bigger[1], bigger[2], bigger[3], params)
    assert hi <= lo + 1e-15
    assert hi >= 0.0
    if params["clamp_0_1"]:
        assert lo <= 1.0
