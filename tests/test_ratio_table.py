"""numba's ratio to every other implementation (``bench --table``), on synthetic files."""

from mlpbench.harness import schema
from mlpbench.harness.sweep import new_point
from mlpbench.harness.tables import ratio_rows, ratio_summary, ratio_table


def point(impl, n, times, d=784, d_h=256, dtype="float64"):
    p = new_point(impl, dtype, "step", {"n": n, "d": d, "d_h": d_h, "m": 10}, 0.0, 0.0)
    median = sorted(times)[len(times) // 2]
    p.update(status="ok", samples=len(times), loops=1, times_s=list(times),
             rounds=list(range(len(times))))
    for k in schema.TIMING_FIELDS:
        p[k] = median
    p["iqr_s"] = 0.0
    return p


def document(points, threads):
    return {"schema": schema.SCHEMA, "schema_version": schema.SCHEMA_VERSION, "created": "",
            "updated": "", "complete": True, "machine": {}, "peak": None,
            "threads": {"numba_threads": threads, "blas_threads": threads},
            "sweep": {"axis": "n", "sizes": {"n": [1, 64]}, "base": dict(schema.BASE)},
            "points": points}


def jitter(t, k=12):
    """k samples around t, the same pattern for every implementation (rounds pair)."""
    return [t * (1 + 0.01 * ((i * 7) % 5 - 2)) for i in range(k)]


T1 = document([
    point("numba", 1, jitter(1e-4)), point("numpy", 1, jitter(3e-4)),
    point("torch", 1, jitter(1.005e-4)),  # a tie
    point("numba", 64, jitter(1e-3)), point("numpy", 64, jitter(1.5e-3)),
    point("torch", 64, jitter(0.8e-3)),  # torch faster: numba slower
], threads=1)
T1_D = document([  # a d sweep at 1 thread, in another file
    point("numba", 1024, jitter(1e-2), d=16), point("numpy", 1024, jitter(1.1e-2), d=16),
], threads=1)
T2 = document([point("numba", 1, jitter(2e-4)), point("numpy", 1, jitter(1e-4))], threads=2)


def test_rows_pair_the_samples_and_give_verdicts():
    rows = ratio_rows([T1])
    by_n = {r["n"]: r for r in rows}
    one = by_n[1]["others"]
    assert abs(one["numpy"]["ratio"] - 3.0) < 1e-9 and one["numpy"]["verdict"] == "faster"
    assert one["numpy"]["lo"] <= 3.0 <= one["numpy"]["hi"]
    assert one["torch"]["verdict"] == "tie"
    assert by_n[64]["others"]["torch"]["verdict"] == "slower"
    summary = ratio_summary(rows)
    assert summary["slower"] == 1 and summary["points"] == 2
    assert summary["worst"]["other"] == "torch" and abs(summary["worst"]["times"] - 1.25) < 1e-9


def test_table_per_thread_count_with_the_final_lines():
    text = ratio_table([T1, T1_D, T2])
    assert "1 thread(s), float64, step" in text and "2 thread(s), float64, step" in text
    assert "d=16" in text  # points labelled by what differs from the base point
    assert "numba slower than the best other at 1 of 3 points, worst 1.25x (n=64, vs torch)" \
        in text
    assert "numba slower than the best other at 1 of 1 points, worst 2.00x (n=1, vs numpy)" \
        in text
    assert text.splitlines()[-1].startswith("all: numba slower than the best other at 2 of 4")


def test_a_point_in_two_files_counts_once():
    rows = ratio_rows([T1, T1])
    assert len(rows) == 2


def test_medians_only_without_raw_samples():
    doc = document([point("numba", 1, [1e-4]), point("numpy", 1, [2e-4])], threads=1)
    for p in doc["points"]:
        del p["times_s"], p["rounds"]
    (row,) = ratio_rows([doc])
    cell = row["others"]["numpy"]
    assert cell["ratio"] == 2.0 and cell["lo"] is None and cell["verdict"] == "faster"
    assert "2.00 +" in ratio_table([doc])


def test_the_base_point_of_a_d_h_sweep_is_labelled_by_d_h():
    doc = document([point(impl, 1024, jitter(t), d_h=d_h) for d_h in (16, 256)
                    for impl, t in (("numba", 1e-3), ("numpy", 2e-3))], threads=1)
    labels = [line.split()[0] for line in ratio_table([doc]).splitlines()
              if line.strip().startswith(("d_h=", "n="))]
    assert labels == ["d_h=16", "d_h=256"]  # not "n=1024", the base point's n


def test_the_memory_bound_column_gives_the_step_over_one_copy_of_w1():
    own = point("numba", 1, jitter(1.5e-4))
    own["bound_s"] = jitter(1e-4)  # the step takes 1.5x the copy
    own["bound_s"][3] = None  # a round where the bound was not timed is left out
    doc = document([own, point("numpy", 1, jitter(6e-4)),
                    point("numba", 64, jitter(1e-3)), point("numpy", 64, jitter(2e-3))],
                   threads=1)
    by_n = {r["n"]: r for r in ratio_rows([doc])}
    cell = by_n[1]["bound"]
    assert abs(cell["ratio"] - 1.5) < 1e-9 and cell["lo"] <= 1.5 <= cell["hi"]
    assert by_n[64]["bound"] is None
    text = ratio_table([doc])
    header = next(line for line in text.splitlines() if line.lstrip().startswith("point"))
    assert header.rstrip().endswith("x copy W1")
    row = next(line for line in text.splitlines() if line.lstrip().startswith("n=1 "))
    assert "1.50 [" in row
    assert "time / the time of one copy of W1" in text
    schema.validate(doc)


def test_no_bound_column_where_no_point_has_a_bound():
    assert "x copy W1" not in ratio_table([T1])


def test_a_bound_list_of_the_wrong_length_is_refused():
    import pytest

    own = point("numba", 1, jitter(1e-4))
    own["bound_s"] = [1e-4]
    with pytest.raises(schema.SchemaError, match="bound_s"):
        schema.validate(document([own], threads=1))
