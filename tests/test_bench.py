"""The benchmark scripts run (``--smoke``) and write complete results; the docs render the committed results."""

import importlib.util
import json
import math
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
NAMES = ["returns", "envs", "records", "ppo", "reinforce", "continuous", "throughput", "scale"]
# The first columns of each benchmark's table in the docs; for records, also its collection table.
HEADERS = {
    ("returns", ""): "| T | N | numpy loop | torch loop | typedrl | checked | floor | typedrl / floor | target |",
    ("returns", "operations"): "| operation | T | N | typedrl | checked | floor | typedrl / floor | target |",
    ("envs", ""): "| env | N | raw µs / vector step | checked | checks | throughput checked / raw | checks alone |",
    ("records", ""): "| what | T=",
    ("records", "collection"): "| N | policy | collect, µs / vector step | bare loop | collector's overhead |",
    ("ppo", ""): "| seed |",
    ("ppo", "medians"): "|  | stable runs | first: steps / s (median) | stable: steps / s (median) |",
    (
        "reinforce",
        "",
    ): "| seed | plain PyTorch: seconds, last-epoch mean return | typedrl: seconds, last-epoch mean return |",
    ("continuous", ""): "| task | steps | seeds |",
    ("throughput", ""): "| setting | K | typedrl (tensor env), steps/s | rejax, steps/s | typedrl / rejax |",
    ("throughput", "solve"): "| K = ",
    ("scale", ""): "| N | sync, env steps/s | async, env steps/s | async / sync | target |",
}
PAGES = {
    "performance.md": ["returns"],
    "contract.md": ["envs"],
    "records.md": ["records"],
    "benchmarks.md": ["ppo", "reinforce", "continuous"],
    "agents.md": ["throughput"],
    "scaling.md": ["scale"],
}


def _module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# docs/ and bench/ are not packages: their modules are loaded from their files.
bench_tables = _module(ROOT / "docs" / "bench_tables.py")
results_module = _module(ROOT / "bench" / "_results.py")
bench_throughput = _module(ROOT / "bench" / "bench_throughput.py")  # imports nothing heavy until main()


def _numbers(value: Any) -> list[int | float]:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    if isinstance(value, int | float):
        return [value]
    items = value.values() if isinstance(value, dict) else value
    return [number for item in items for number in _numbers(item)]


def _unsigned(name: str, results: Any) -> list[int | float]:
    """The numbers of a results list that cannot be negative: all of them but the returns of the continuous
    benchmark (Pendulum's rewards are at most 0, LunarLander's and HalfCheetah's returns can be negative)."""
    if name != "continuous":
        return _numbers(results)
    return _numbers([{key: value for key, value in row.items() if key != "points"} for row in results]) + _numbers(
        [{key: value for key, value in point.items() if key != "mean"} for row in results for point in row["points"]]
    )


@pytest.fixture(scope="module", params=NAMES)
def smoke(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """Run ``python bench/bench_NAME.py --smoke --out TMP/NAME.json`` once per script; its name and its JSON."""
    name: str = request.param
    out = tmp_path_factory.mktemp("bench") / f"{name}.json"
    result = subprocess.run(
        [sys.executable, f"bench/bench_{name}.py", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"results written to {out} (smoke run)" in result.stdout
    return name, json.loads(out.read_text(encoding="utf-8"))


def test_smoke_runs_write_every_field(smoke: tuple[str, dict[str, Any]]) -> None:
    name, data = smoke
    assert set(data) == {
        "benchmark",
        "script",
        "command",
        "smoke",
        "commit",
        "date",
        "wall_seconds",
        "machine",
        "versions",
        "settings",
        "results",
        "summary",
    }
    assert data["benchmark"] == name
    assert data["smoke"] is True
    assert data["script"] == f"bench/bench_{name}.py"
    assert data["command"].startswith(f"python bench/bench_{name}.py --smoke --out ")
    assert set(data["commit"]) == {"sha", "dirty"}
    assert len(data["commit"]["sha"]) == 40
    assert isinstance(data["commit"]["dirty"], bool)
    assert datetime.strptime(data["date"], "%Y-%m-%dT%H:%M:%SZ")
    machine = data["machine"]
    assert {"platform", "python", "cpu", "logical_cores", "torch_threads", "load_average", "gpu"} <= set(machine)
    assert machine["cpu"]
    assert machine["logical_cores"] >= 1
    assert machine["torch_threads"] == 1
    assert all(data["versions"][package] for package in ("typedrl", "torch", "numpy", "gymnasium"))
    assert data["settings"]
    assert data["summary"]
    assert data["results"]
    assert all(isinstance(row, dict) for row in data["results"])


def test_smoke_figures_are_finite_and_positive(smoke: tuple[str, dict[str, Any]]) -> None:
    name, data = smoke
    # Rows hold sizes, counts and seeds (ints) and measured times and returns (floats): every one finite, and none
    # negative but the returns of tasks whose rewards are (Pendulum's are at most 0).
    numbers = _numbers(data["results"])
    assert any(isinstance(number, float) for number in numbers)
    assert all(math.isfinite(number) for number in numbers)
    assert all(number >= 0 for number in _unsigned(name, data["results"]))
    assert all(math.isfinite(number) for number in _numbers(data["summary"]))
    assert data["wall_seconds"] > 0


def test_smoke_results_render_as_tables(smoke: tuple[str, dict[str, Any]]) -> None:
    name, data = smoke
    for (benchmark, part), renderer in bench_tables.TABLES.items():
        if benchmark == name:
            table = renderer(data)
            if (name, part) in HEADERS:
                assert table.startswith(HEADERS[name, part])
            assert table.count("\n") >= 2 or not table.startswith("|")
    for (benchmark, part), renderer in bench_tables.FIGURES.items():
        if benchmark == name:
            assert renderer(data)[0] in "0123456789-×s", part
    assert bench_tables.citation(data).startswith(f"From `bench/results/{name}.json` (commit `")
    assert bench_tables.citation(data).endswith(f"regenerate with `python bench/bench_{name}.py --smoke`.")


def test_a_smoke_file_fails_the_docs_build(smoke: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    name, data = smoke
    (tmp_path / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(bench_tables.BenchTableError, match=rf"is a --smoke run .*`python bench/bench_{name}.py`"):
        bench_tables.render_markers(f"<!-- bench-table: {name} -->", tmp_path)


def test_a_missing_file_fails_the_docs_build_naming_the_command(tmp_path: Path) -> None:
    message = r"<!-- bench-table: envs -->: bench/results/envs.json does not exist; .* run `python bench/bench_envs.py`"
    with pytest.raises(bench_tables.BenchTableError, match=message):
        bench_tables.render_markers("Text.\n\n<!-- bench-table: envs -->\n", tmp_path)


@pytest.mark.parametrize("name", NAMES)
def test_committed_results_are_full_runs_and_render(name: str) -> None:
    data = bench_tables.load(RESULTS, name)  # raises if missing, another benchmark's or a smoke run
    assert data["smoke"] is False
    assert data["command"].startswith(f"python bench/bench_{name}.py")
    assert "--smoke" not in data["command"]
    assert all(math.isfinite(number) for number in _numbers(data["results"]))
    assert all(number >= 0 for number in _unsigned(name, data["results"]))
    rendered = bench_tables.render_markers(f"<!-- bench-table: {name} -->", RESULTS)
    assert rendered.startswith(HEADERS[name, ""])
    assert f"regenerate with `python bench/bench_{name}.py" in rendered


@pytest.mark.parametrize("page", sorted(PAGES))
def test_the_docs_pages_render_their_figures_from_the_committed_results(page: str) -> None:
    markdown = (ROOT / "docs" / page).read_text(encoding="utf-8")
    for name in PAGES[page]:
        assert f"<!-- bench-table: {name} -->" in markdown
    rendered = bench_tables.render_markers(markdown, RESULTS)
    assert "bench-table" not in rendered
    assert "bench-figure" not in rendered
    for name in PAGES[page]:
        assert f"From `bench/results/{name}.json` (commit" in rendered


def test_learning_curves_are_results_rows_and_render() -> None:
    rows = [
        results_module.curve_row("peer", 0, [(2048, 1.0, 100.0), (4096, 2.0, 500.0), (6144, 3.0, 500.0)]),
        results_module.curve_row("typedrl", 0, [(2048, 0.5, 500.0), (4096, 1.0, 400.0), (6144, 1.5, 500.0)]),
        results_module.curve_row("typedrl", 1, [(2048, 0.5, 100.0), (4096, 1.0, 200.0)]),
    ]
    data = results_module.plain({"benchmark": "ppo", "settings": {"threshold": 500.0}, "results": rows})
    assert data["results"][0]["points"][1] == {"env_steps": 4096, "seconds": 2.0, "mean": 500.0}
    assert bench_tables.TABLES["ppo", ""](data).splitlines()[2:] == [
        "| 0 | 4,096 steps (2.0 s) | 4,096 steps (2.0 s) | 2,048 steps (0.5 s) | 6,144 steps (1.5 s) |",
        "| 1 | — | — | — | — |",
    ]
    assert bench_tables.TABLES["ppo", "medians"](data).splitlines()[2:] == [
        "| peer | 1 of 1 | 4,096 / 2.0 s | 4,096 / 2.0 s |",
        "| typedrl | 1 of 2 | 2,048 / 0.5 s | 6,144 / 1.5 s |",
    ]
    with pytest.raises(ValueError, match="env steps are not increasing"):
        results_module.curve_row("typedrl", 0, [(4096, 1.0, 9.0), (2048, 2.0, 9.0)])


def test_results_refuse_a_nan_naming_where() -> None:
    with pytest.raises(ValueError, match=r"returns\['results'\]\[0\]\['seconds'\]\[1\] is nan"):
        results_module.plain({"results": [{"seconds": [1.0, float("nan")]}]}, "returns")


def test_time_to_solve_is_the_first_evaluation_at_which_every_agent_has_passed_once() -> None:
    steps = [5000, 10000, 15000]
    means = [[480.0, 100.0, 500.0], [200.0, 475.0, 300.0]]  # agent 0 passes at 5,000 steps, agent 1 at 10,000
    first = bench_throughput.first_solves(steps, means)
    assert first == [5000, 10000]
    assert bench_throughput.all_solved_at(first) == 10000
    assert bench_throughput.all_solved_at([5000, None]) is None
    # rejax: create + compilation + running time in proportion to the steps (10,000 of the 15,000 run).
    measured = {"create_seconds": 0.5, "compile_seconds": 10.0, "run_seconds": 6.0, "steps_per_agent": 15000}
    assert bench_throughput.rejax_seconds_to_solve(measured, 10000) == pytest.approx(14.5)
    assert bench_throughput.rejax_seconds_to_solve(measured, None) is None


def test_a_run_that_never_solves_counts_as_infinitely_slow_and_has_no_figure() -> None:
    def run(library: str, seconds: float | None) -> dict[str, Any]:
        steps = None if seconds is None else 50_000
        return {
            "library": library,
            "seconds_to_solve": seconds,
            "steps_to_solve": steps,
            "compile_seconds": 10.0 if library == "rejax" else 0.0,
            "passed_fraction": 1.0 if seconds is not None else 0.5,
        }

    rows = [run("rejax", None), run("typedrl", 30.0), run("rejax", 40.0), run("typedrl", 20.0), run("rejax", None)]
    summary = bench_throughput.summarize_solve(rows, with_rejax=True)
    assert summary["rejax"]["seconds"] == [None, 40.0, None]
    assert summary["rejax"]["seconds_median"] is None  # two of three runs never solved
    assert summary["rejax"]["solved_runs"] == 1
    assert summary["typedrl"]["seconds_median"] == 25.0
    assert summary["ratio"] is None
    assert summary["met"] is True
    assert bench_throughput.summarize_solve(rows[1::2], with_rejax=False)["met"] is None
