"""The classic-collections benchmark's bookkeeping (the benchmark itself: ``python benchmarks/classic.py``)."""


import pytest
from scipy import stats

from helpers import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("classic")


def cell(row, seed, per_query):
    mean = sum(per_query.values()) / len(per_query)
    return {"row": row, "seed": seed, "train_minutes": 1.0, "per_query_ndcg10": per_query,
            "scores": {"ndcg_cut_10": mean, "recall_100": 0.5, "recip_rank": 0.5}}


def test_rows_are_tested_against_the_base_on_each_query_s_mean_over_seeds(bench, tmp_path):
    base = {"1": 0.2, "2": 0.4, "3": 0.5, "4": 0.1}
    seeds = [cell("de", 1, {"1": 0.3, "2": 0.5, "3": 0.4, "4": 0.3}), cell("de", 2, {"1": 0.5, "2": 0.5, "3": 0.6,
                                                                                     "4": 0.1})]
    results = {"cranfield": {"base": [{"row": "base", "per_query_ndcg10": base,
                                       "scores": {"ndcg_cut_10": 0.3, "recall_100": 0.5, "recip_rank": 0.5}}],
                             "de": seeds}}
    text = bench.report(results, tmp_path, looks=3, command="python benchmarks/classic.py --cells-only")
    mean = [0.4, 0.5, 0.5, 0.2]
    p = stats.ttest_rel(mean, [base[q] for q in "1234"]).pvalue
    assert f"+0.1000, p {p:.3g} |" in text
    assert "| de | 1, 2 | 0.4000 ± 0.0354 |" in text  # the seeds' means (0.375, 0.425): mean and spread
    assert "p < 0.0167 (Bonferroni)" in text  # 0.05 over 3 rows looked at
    assert "- `de`: `--variant de`" in text and "full-100" not in text  # only the rows reported are listed


def test_a_row_s_cells_are_named_by_its_options(bench):
    assert bench.row_tag("de") != bench.row_tag("de-mask")
    assert bench.row_tag("full") == bench.row_tag("full")  # stable: committed cells are found again
