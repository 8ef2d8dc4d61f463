"""Statistics on synthetic data with known answers: interval coverage, cluster resampling, paired tests."""

from __future__ import annotations

import numpy as np
import pytest

from harness.core.stats import Interval, bootstrap_ci, cluster_bootstrap, collapse_groups, mean, paired_test


def test_cluster_bootstrap_of_a_mean_matches_the_item_bootstrap() -> None:
    rng = np.random.default_rng(0)
    x = (rng.random(300) < 0.4).astype(float)
    iv = cluster_bootstrap(x, n_boot=2000, seed=1)
    lo, hi = bootstrap_ci(list(x), mean, n_boot=2000, seed=1)
    assert iv.value == pytest.approx(x.mean()) and iv.n == 300
    # Different generators, same estimand: the ends agree to about a percentage point.
    assert iv.low == pytest.approx(lo, abs=0.015) and iv.high == pytest.approx(hi, abs=0.015)


def test_interval_covers_a_known_rate_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(1)
    p, reps = 0.3, 300
    covered = 0
    for r in range(reps):
        x = (rng.random(200) < p).astype(float)
        iv = cluster_bootstrap(x, n_boot=400, seed=r)
        covered += iv.low <= p <= iv.high
    assert 0.90 <= covered / reps <= 0.99, covered / reps


def _clustered(rng: np.random.Generator, clusters: int, size: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    """Items in clusters with a strong shared effect: each cluster's rate is 0.1 or 0.9 around p."""
    rates = np.where(rng.random(clusters) < (p - 0.1) / 0.8, 0.9, 0.1)
    items = (rng.random((clusters, size)) < rates[:, None]).astype(float)
    return items, rates


def test_cluster_bootstrap_covers_where_the_item_bootstrap_does_not() -> None:
    rng = np.random.default_rng(2)
    p, reps, clusters, size = 0.5, 200, 40, 8
    cluster_cov = item_cov = 0
    for r in range(reps):
        items, _ = _clustered(rng, clusters, size, p)
        # Units are clusters: num = hits in the cluster, den = its size (a pooled rate).
        iv = cluster_bootstrap(items.sum(axis=1), np.full(clusters, size), n_boot=400, seed=r)
        naive = cluster_bootstrap(items.ravel(), n_boot=400, seed=r)
        cluster_cov += iv.low <= p <= iv.high
        item_cov += naive.low <= p <= naive.high
    assert cluster_cov / reps >= 0.89, cluster_cov / reps
    # Treating correlated items as independent gives intervals far too narrow.
    assert item_cov / reps < 0.75, item_cov / reps


def test_collapse_groups_scores_a_circular_question_by_its_worst_pass() -> None:
    units = collapse_groups(["0", "1000000", "1", "7"], [1.0, 0.0, 1.0, 0.5], [1, 1, 1, 4], ["0", "0", "1", None])
    assert units == {"group:0": (0.0, 1.0), "group:1": (1.0, 1.0), "item:7": (2.0, 4)}


def test_ratio_metric_pools_numerators_and_denominators() -> None:
    iv = cluster_bootstrap([1, 0, 3], [2, 0, 6], n_boot=200)
    assert iv.value == pytest.approx(4 / 8)


def test_too_few_units_give_no_interval() -> None:
    assert cluster_bootstrap([1.0]) == Interval(1.0, None, None, 1)
    assert cluster_bootstrap([1.0, 0.0], n_boot=0).low is None


def test_identical_systems_have_p_one_and_zero_difference() -> None:
    x = (np.random.default_rng(3).random(500) < 0.6).astype(float)
    t = paired_test(x, x.copy(), n_boot=300, n_perm=500)
    assert t.diff == 0 and t.p_value == 1.0 and t.low == 0 and t.high == 0 and t.n == 500


def test_a_clearly_better_system_has_a_small_p_value() -> None:
    rng = np.random.default_rng(4)
    b = (rng.random(400) < 0.5).astype(float)
    a = np.where(rng.random(400) < 0.3, 1.0, b)  # A fixes 30% of items and breaks none
    t = paired_test(a, b, n_boot=500, n_perm=2000, seed=1)
    assert t.diff > 0.1 and t.p_value < 0.001 and t.low > 0
    back = paired_test(b, a, n_boot=500, n_perm=2000, seed=1)
    assert back.diff == pytest.approx(-t.diff) and back.p_value < 0.001 and back.high < 0


def test_equal_systems_with_different_errors_are_not_significant_most_of_the_time() -> None:
    rng = np.random.default_rng(5)
    rejections = 0
    for r in range(100):
        a = (rng.random(200) < 0.6).astype(float)
        b = (rng.random(200) < 0.6).astype(float)
        rejections += paired_test(a, b, n_boot=0, n_perm=400, seed=r).p_value < 0.05
    assert rejections <= 12  # about 5 expected under the null


def test_paired_test_of_a_pooled_rate_swaps_whole_units() -> None:
    # CHAIRi-like: A halves hallucinated mentions on every caption.
    rng = np.random.default_rng(6)
    mentions = rng.integers(1, 6, size=300).astype(float)
    b_h = np.minimum(mentions, rng.integers(0, 4, size=300))
    a_h = np.floor(b_h / 2)
    t = paired_test(a_h, b_h, mentions, mentions, n_boot=300, n_perm=1000)
    assert t.diff == pytest.approx(a_h.sum() / mentions.sum() - b_h.sum() / mentions.sum())
    assert t.diff < 0 and t.p_value < 0.01


def test_paired_test_needs_aligned_units() -> None:
    with pytest.raises(ValueError):
        paired_test([1.0, 0.0], [1.0])


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 65, 1424, (1 << 20) + 3])
def test_resample_indices_are_the_plain_loops_draws(n: int) -> None:
    """The bulk draws are exactly `randrange`'s, so intervals did not move when they came in."""
    import random

    from harness.core.stats import resample_indices

    rounds = 3 if n > 10_000 else 40
    for seed in (0, 7):
        r = random.Random(seed)
        want = [[r.randrange(n) for _ in range(n)] for _ in range(rounds)]
        assert list(resample_indices(random.Random(seed), n, rounds)) == want
