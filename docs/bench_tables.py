"""Benchmark tables and figures for the docs, rendered from the committed JSON in ``bench/results/``.

The docs never retype a measured figure: ``docs/hooks.py`` replaces these markers when the site is built.

* ``<!-- bench-table: NAME -->``: the table of ``bench/results/NAME.json``, then a line saying where it comes from
  (file, commit, date, machine) and the command that regenerates it;
* ``<!-- bench-table: NAME PART -->``: another table of the same file (``records collection``);
* ``<!-- bench-figure: NAME FIGURE -->``: one figure inline, such as ``2.7–2.8 µs`` (``envs checks_alone``); the
  sentence around it names the file and the command.

A missing file, a ``--smoke`` file, a file from another benchmark, or an unknown table or figure raises
:class:`BenchTableError`, and the build fails with its message. The layout of the files is in ``bench/_results.py``;
each benchmark's rows and summary are described in its script. Nothing here imports mkdocs or typedrl.
"""

import json
import re
import shlex
import statistics
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

MARKER = re.compile(r"<!--\s*bench-(table|figure):\s*([A-Za-z_]\w*)(?:\s+([A-Za-z_]\w*))?\s*-->")
Data = dict[str, Any]


class BenchTableError(Exception):
    """A benchmark marker that cannot be rendered; the message says which file and what to run."""


def results_file(name: str) -> str:
    """The file a benchmark's figures come from, as the docs name it."""
    return f"bench/results/{name}.json"


def regenerate_command(data: Data) -> str:
    """The command that wrote ``data``, without ``--out`` (the default path is the committed one)."""
    words = shlex.split(data["command"])
    kept: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word == "--out":
            skip = True
        elif not word.startswith("--out="):
            kept.append(word)
    return shlex.join(kept)


def load(results: Path, name: str) -> Data:
    """``results/NAME.json``, refused with a clear message if missing, unreadable, another benchmark's, or smoke."""
    path = results / f"{name}.json"
    script = f"python bench/bench_{name}.py"
    if not path.is_file():
        raise BenchTableError(
            f"{results_file(name)} does not exist; the docs render their benchmark tables from it: run `{script}`"
            " (and commit the file)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BenchTableError(f"{results_file(name)} cannot be read ({error}); regenerate it with `{script}`") from None
    if not isinstance(data, dict) or data.get("benchmark") != name:
        got = data.get("benchmark") if isinstance(data, dict) else type(data).__name__
        raise BenchTableError(f"{results_file(name)} holds benchmark {got!r}; expected {name!r}: run `{script}`")
    if data.get("smoke", True):
        raise BenchTableError(
            f"{results_file(name)} is a --smoke run (`{data.get('command')}`), whose figures mean nothing;"
            f" regenerate it with a full run: `{script}`"
        )
    return data


def citation(data: Data) -> str:
    """``From `bench/results/NAME.json` (commit …, date …, machine …); regenerate with `python bench/…`.``"""
    name = data["benchmark"]
    commit, machine = data["commit"], data["machine"]
    sha = f"`{commit['sha'][:7]}`" if commit.get("sha") else "unknown"
    dirty = " with uncommitted changes" if commit.get("dirty") else ""
    date = data["date"].replace("T", " ").replace("Z", " UTC")
    threads = machine["torch_threads"]
    where = [str(machine["cpu"]), f"{machine['logical_cores']} logical cores", f"{threads} torch thread"]
    where[-1] += "" if threads == 1 else "s"
    if machine.get("gpu"):
        where.append(str(machine["gpu"]))
    if machine.get("load_average"):
        where.append(f"load average {machine['load_average'][1]:.1f}")
    return (
        f"From `{results_file(name)}` (commit {sha}{dirty}, {date}; {', '.join(where)}); regenerate with"
        f" `{regenerate_command(data)}`."
    )


def markdown_table(header: list[str], rows: Iterable[list[str]]) -> str:
    """A Markdown table; ``|`` inside a cell is escaped."""
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in lines)


def figure(value: float) -> str:
    """A measured figure with the digits that mean something: 1,746, 41, 2.7, 0.064."""
    size = abs(value)
    if size >= 10:
        return f"{value:,.0f}"
    if size >= 1:
        return f"{value:.1f}"
    return f"{value:.2g}" if value else "0"


def span(values: Iterable[float], unit: str, digits: Callable[[float], str] = figure) -> str:
    """``2.7–2.8 µs``, or one value when both ends read the same; ``%`` follows the number without a space."""
    numbers = list(values)
    low, high = digits(min(numbers)), digits(max(numbers))
    text = low if low == high else f"{low}–{high}"
    return text + unit if unit == "%" else f"{text} {unit}"


# --- bench_returns.py ----------------------------------------------------------------------------------------------


def returns_table(data: Data) -> str:
    """GAE on the CPU: ns per element of each implementation, ratios, targets, the checks' cost per call."""
    speedup = data["summary"]["cpu"]["numpy_speedup"]
    rows = []
    for size in data["summary"]["cpu"]["sizes"]:
        ns = size["ns_per_element"]
        target = f"≤ {size['floor_target']:g}×" + ("" if size["floor_target_met"] else " (missed)")
        versus = f"{size['numpy_loop_over_typedrl']:,.0f}×"
        if speedup and (size["T"], size["N"]) == (speedup["T"], speedup["N"]):
            versus += f" (target ≥ {speedup['target']:g}×{'' if speedup['met'] else ', missed'})"
        cells = [ns[key] for key in ("numpy_loop", "torch_loop", "typedrl", "typedrl_checked", "floor")]
        rows.append(
            [
                str(size["T"]),
                str(size["N"]),
                *(f"{value:.2f}" for value in cells),
                f"{size['typedrl_over_floor']:.1f}×",
                target,
                versus,
                f"{size['checks_us_per_call']:.0f}",
            ]
        )
    header = ["T", "N", "numpy loop", "torch loop", "typedrl", "checked", "floor", "typedrl / floor", "target"]
    return markdown_table([*header, "numpy loop / typedrl", "checks, µs per call"], rows)


def returns_cuda(data: Data) -> str:
    """GAE on CUDA: µs per call against the torch loop and a device copy; a sentence when no GPU was there."""
    cuda = data["summary"]["cuda"]
    if not cuda:
        return "No GPU was present in this run: the CUDA figures need a machine with one."
    rows = []
    for size in cuda:
        us = size["us_per_call"]
        loop = f"{us['torch_loop']:,.0f}" if "torch_loop" in us else "not run"
        ratio = f"{size['typedrl_over_copy']:.2f}×"
        rows.append([str(size["T"]), str(size["N"]), f"{us['typedrl']:,.0f}", loop, f"{us['copy']:,.0f}", ratio])
    return markdown_table(["T", "N", "typedrl, µs", "torch loop, µs", "copy, µs", "typedrl / copy"], rows)


def returns_operations(data: Data) -> str:
    """The other operations on the CPU (n-step, V-trace, masked and batch-major GAE): ns per element with the checks
    off and on, the floor timed in the same turns, the ratio and the issue's target where it applies."""
    operations = data["summary"]["operations"]
    labels = data["settings"]["operations"]
    rows = []
    for operation, label in labels.items():
        target = operations["targets"][operation]
        for size in operations["sizes"]:
            line = size["operations"][operation]
            cell = "—"
            if (size["T"], size["N"]) == (target["T"], target["N"]) and target["met"] is not None:
                cell = f"≤ {target['max_over_floor']:g}×" + ("" if target["met"] else " (missed)")
            rows.append(
                [
                    label,
                    str(size["T"]),
                    str(size["N"]),
                    f"{line['ns_per_element']['typedrl']:.2f}",
                    f"{line['ns_per_element']['typedrl_checked']:.2f}",
                    f"{size['floor_ns_per_element']:.2f}",
                    f"{line['typedrl_over_floor']:.1f}×",
                    cell,
                    f"{line['checks_us_per_call']:.0f}",
                ]
            )
    header = ["operation", "T", "N", "typedrl", "checked", "floor", "typedrl / floor", "target"]
    return markdown_table([*header, "checks, µs per call"], rows)


def returns_checks(data: Data) -> str:
    """What the shape checks add per call, over the sizes."""
    return span((size["checks_us_per_call"] for size in data["summary"]["cpu"]["sizes"]), "µs")


# --- bench_envs.py -------------------------------------------------------------------------------------------------


def envs_table(data: Data) -> str:
    """Raw against checked vector env: µs per vector step, the checks' cost, throughput, the checks alone."""
    rows = [
        [
            f"`{line['env']}`" if line["env"].isidentifier() else line["env"],
            str(line["N"]),
            f"{line['raw_us']:.2f}",
            f"{line['checked_us']:.2f}",
            f"{line['checks_us']:.2f}",
            f"{line['throughput_ratio']:.1%}",
            f"{line['checks_alone_us']:.2f}",
        ]
        for line in data["summary"]["table"]
    ]
    header = ["env", "N", "raw µs / vector step", "checked", "checks", "throughput checked / raw", "checks alone"]
    return markdown_table(header, rows)


def _envs(data: Data, env: str | None = None) -> list[dict[str, Any]]:
    return [line for line in data["summary"]["table"] if env is None or line["env"] == env]


def envs_checks_alone(data: Data) -> str:
    """The checks alone, per vector step, over every setting."""
    return span((line["checks_alone_us"] for line in _envs(data)), "µs")


def envs_checks_alone_growth(data: Data) -> str:
    """How the checks alone grow per extra sub-environment, from N = 8 to N = 64."""
    return f"{figure(data['summary']['checks_alone_ns_per_extra_env'])} ns"


def envs_checks_native(data: Data) -> str:
    """Checked − raw on ``CartPoleVectorEnv``, per vector step."""
    return span((line["checks_us"] for line in _envs(data, "CartPoleVectorEnv")), "µs")


def envs_throughput_native(data: Data) -> str:
    """The share of the raw throughput the checked ``CartPoleVectorEnv`` keeps."""
    return span((line["throughput_ratio"] * 100 for line in _envs(data, "CartPoleVectorEnv")), "%", "{:.0f}".format)


def envs_checks_per_env(data: Data) -> str:
    """Checked − raw per sub-environment step, at the largest N of ``CartPoleVectorEnv``."""
    line = max(_envs(data, "CartPoleVectorEnv"), key=lambda line: line["N"])
    return f"{figure(line['checks_us'] / line['N'])} µs at N = {line['N']}"


# --- bench_records.py ----------------------------------------------------------------------------------------------


def records_construction(data: Data) -> str:
    """``Rollout(...)`` and its sample, µs per call, checks off and on, one column per size."""
    built = data["summary"]["construction"]
    sizes = list(dict.fromkeys((line["T"], line["N"]) for line in built))
    by = {(line["T"], line["N"], line["checks"]): line for line in built}
    rows = []
    for label, key in (("`Rollout(...)`", "rollout_us"), ("`rollout.to_actor_critic_sample(...)`", "sample_us")):
        cells = [f"{figure(by[t, n, 'off'][key])} µs / {figure(by[t, n, 'on'][key])} µs" for t, n in sizes]
        rows.append([label, *cells])
    return markdown_table(["what", *(f"T={t}, N={n}: checks off / on" for t, n in sizes)], rows)


def records_collection(data: Data) -> str:
    """The collector against bare loops, µs per vector step, and what it adds."""
    rows = [
        [
            str(line["N"]),
            line["policy"],
            f"{line['collect_us']:.1f}",
            f"{line['bare_loop_us']:.1f}",
            f"{line['collect_us'] - line['bare_loop_us']:.1f}",
        ]
        for line in data["summary"]["collection"]
    ]
    return markdown_table(["N", "policy", "collect, µs / vector step", "bare loop", "collector's overhead"], rows)


def records_jaxtyping(data: Data) -> str:
    """What the shape checks add to ``Rollout(...)``, over the sizes."""
    built = data["summary"]["construction"]
    by = {(line["T"], line["N"], line["checks"]): line["rollout_us"] for line in built}
    return span((by[t, n, "on"] - by[t, n, "off"] for t, n, checks in by if checks == "on"), "µs")


# --- learning curves (bench_ppo.py and the like: rows from _results.curve_row, settings["threshold"]) ------------


def _reached(points: list[dict[str, Any]], threshold: float) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The first point at ``threshold`` or above, and the point from which every later one is."""
    first = next((point for point in points if point["mean"] >= threshold), None)
    stable = None
    for point in reversed(points):
        if point["mean"] < threshold:
            break
        stable = point
    return first, stable


def _curves(data: Data) -> tuple[float, dict[str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in data["results"]:
        groups.setdefault(row["label"], []).append(row)
    return float(data["settings"]["threshold"]), groups


def _at(point: dict[str, Any] | None) -> str:
    return "—" if point is None else f"{point['env_steps']:,} steps ({point['seconds']:.1f} s)"


def curves_table(data: Data) -> str:
    """Per seed: when each label's evaluation first reached the threshold, and from when it stayed there."""
    threshold, groups = _curves(data)
    seeds = sorted({row["seed"] for rows in groups.values() for row in rows})
    header = ["seed"] + [f"{label}: {what}" for label in groups for what in (f"first ≥ {threshold:g}", "stable from")]
    rows = []
    for seed in seeds:
        cells = [str(seed)]
        for rows_of_label in groups.values():
            row = next((row for row in rows_of_label if row["seed"] == seed), None)
            cells += ["—", "—"] if row is None else [_at(point) for point in _reached(row["points"], threshold)]
        rows.append(cells)
    return markdown_table(header, rows)


def curves_medians(data: Data) -> str:
    """Per label: how many runs ended stable, and the medians over the runs that reached the threshold."""
    threshold, groups = _curves(data)
    rows = []
    for label, runs in groups.items():
        reached = [_reached(run["points"], threshold) for run in runs]
        cells = [label, f"{sum(stable is not None for _, stable in reached)} of {len(runs)}"]
        for which in (0, 1):
            points = [point for pair in reached if (point := pair[which]) is not None]
            steps = statistics.median(point["env_steps"] for point in points) if points else None
            seconds = statistics.median(point["seconds"] for point in points) if points else None
            cells.append("—" if steps is None else f"{steps:,.0f} / {seconds:.1f} s")
        rows.append(cells)
    return markdown_table(["", "stable runs", "first: steps / s (median)", "stable: steps / s (median)"], rows)


def ppo_acrobot(data: Data) -> str:
    """Acrobot-v1: each label's final greedy mean per seed, and their interquartile mean with its interval."""
    acrobot = data["summary"]["acrobot"]
    seeds = data["settings"]["acrobot_seeds"]
    rows = []
    for label, entry in acrobot.items():
        finals = ", ".join(f"{value:.1f}" for value in entry["finals"])
        iqm = entry.get("final_mean_iqm")
        spread = "—" if iqm is None else f"{iqm['iqm']:.1f} [{iqm['low']:.1f}, {iqm['high']:.1f}]"
        rows.append([label, finals, spread])
    header = ["", f"final greedy mean, seeds {seeds[0]}–{seeds[-1]}", "IQM [95% CI]"]
    return markdown_table(header, rows)


def ppo_targets(data: Data) -> str:
    """The ratios to the peer and the cost of the checks, as one sentence's figures."""
    summary = data["summary"]
    checks = summary["checks_ms_per_update"]
    parts = [
        f"shape checks {checks['on']:.1f} ms per update on, {checks['off']:.1f} ms off ({checks['overhead']:+.1%})"
    ]
    ratios = summary.get("ratios")
    if ratios:
        parts.insert(
            0,
            f"×{ratios['steps']:.2f} SB3's environment steps and ×{ratios['seconds']:.2f} its training "
            "seconds to a stable 500 (medians)",
        )
    return "; ".join(parts)


def reinforce_table(data: Data) -> str:
    """Per seed and label: seconds for the epochs and the last epoch's mean return; then the medians."""
    rows = data["results"]
    labels = list(dict.fromkeys(row["label"] for row in rows))
    seeds = sorted({row["seed"] for row in rows})
    body = []
    for seed in seeds:
        cells = [str(seed)]
        for label in labels:
            row = next(row for row in rows if row["label"] == label and row["seed"] == seed)
            cells.append(f"{row['seconds']:.1f} s, {row['last_mean_return']:.1f} ({row['env_steps']:,} steps)")
        body.append(cells)
    summary = data["summary"]
    body.append(
        ["median"]
        + [
            f"{summary[label]['seconds_median']:.1f} s, {summary[label]['last_mean_return_median']:.1f}"
            for label in labels
        ]
    )
    return markdown_table(["seed", *[f"{label}: seconds, last-epoch mean return" for label in labels]], body)


def reinforce_ratio(data: Data) -> str:
    """typedrl's median time over the plain version's."""
    return f"×{data['summary']['time_ratio']:.2f}"


def _iqm_text(interval: dict[str, float] | None) -> str:
    return "–" if interval is None else f"{interval['iqm']:.1f} [{interval['low']:.1f}, {interval['high']:.1f}]"


def continuous_summary(data: Data) -> str:
    """One row per task: budget, seeds, each library's final-return IQM [95% CI] and median training seconds, and
    the two targets (IQM at least SB3's, at most half its seconds)."""
    body = []
    for task, summary in data["summary"].items():
        settings = data["settings"]["tasks"][task]
        labels = [label for label in summary if isinstance(summary[label], dict)]
        cells = [settings["env_id"], f"{settings['steps']:,}", str(len(settings["seeds"]))]
        for label in labels:
            cells.append(f"{_iqm_text(summary[label]['final_mean_iqm'])}; {summary[label]['seconds_median']:.1f} s")
        ratio = summary.get("seconds_ratio")
        at_least = summary.get("iqm_at_least_sb3")
        overlap = summary.get("intervals_overlap")
        if ratio is None:
            cells.append("– (no peer in this run)")
        else:
            seconds = f"seconds ×{ratio:.2f} ({'met' if ratio <= 0.5 else 'missed'})"
            if at_least is None:
                cells.append(f"IQM – (one seed); {seconds}")
            else:
                where = "intervals overlap" if overlap else "intervals apart"
                cells.append(f"IQM {'met' if at_least else 'missed'} ({where}); {seconds}")
        body.append(cells)
    first = next(iter(data["summary"].values()))
    labels = [label for label in first if isinstance(first[label], dict)]
    header = [
        "task",
        "steps",
        "seeds",
        *[f"{label}: final greedy IQM [95% CI]; median training s" for label in labels],
        "targets: IQM ≥ SB3's; seconds ≤ ×0.5",
    ]
    return markdown_table(header, body)


def continuous_task(task: str) -> Callable[[Data], str]:
    """The per-seed table of one task: each label's final greedy mean return and training seconds."""

    def table(data: Data) -> str:
        rows = [row for row in data["results"] if row.get("task") == task]
        if not rows:
            return f"*{task} was not measured in this run.*"
        labels = list(dict.fromkeys(row["label"] for row in rows))
        body = []
        for seed in sorted({row["seed"] for row in rows}):
            cells = [str(seed)]
            for label in labels:
                row = next(row for row in rows if row["label"] == label and row["seed"] == seed)
                final = row["points"][-1]
                cells.append(f"{final['mean']:.1f} ({final['seconds']:.1f} s)")
            body.append(cells)
        env_id = data["settings"]["tasks"][task]["env_id"]
        header = ["seed", *[f"{label}: final greedy mean on {env_id} (training seconds)" for label in labels]]
        return markdown_table(header, body)

    return table


# --- bench_throughput.py -------------------------------------------------------------------------------------------


def _per_second(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _times(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def throughput_table(data: Data) -> str:
    """PPO training throughput on one core: per setting and K, typedrl's (tensor env) and rejax's steps per second
    (medians over the repeats), their ratio, typedrl on Gymnasium's ``CartPoleVectorEnv`` for one agent, rejax's
    compilation and typedrl's warm-up (both outside the steps per second), and the issue's target."""
    names = data["settings"]["settings"]
    rows = []
    for entry in data["summary"]["throughput"]:
        gymnasium = _per_second(entry["typedrl_gymnasium_steps_per_second"])
        if entry["gymnasium_ratio"] is not None:
            gymnasium += f" ({_times(entry['gymnasium_ratio'])})"
        compiled = entry["rejax_compile_seconds"]
        target = "—"
        if entry["target"] is not None:
            met = entry["met"]
            target = f"≥ {entry['target']:g}×" + (
                " (no peer in this run)" if met is None else "" if met else " (missed)"
            )
        rows.append(
            [
                names[entry["setting"]],
                str(entry["K"]),
                _per_second(entry["typedrl_steps_per_second"]),
                _per_second(entry["rejax_steps_per_second"]),
                _times(entry["ratio"]),
                gymnasium,
                "—" if compiled is None else f"{compiled:.1f} s",
                f"{entry['typedrl_warmup_seconds']:.2f} s",
                target,
            ]
        )
    header = [
        "setting",
        "K",
        "typedrl (tensor env), steps/s",
        "rejax, steps/s",
        "typedrl / rejax",
        "typedrl on Gymnasium, steps/s",
    ]
    return markdown_table([*header, "rejax compilation", "typedrl warm-up", "target"], rows)


def throughput_solve(data: Data) -> str:
    """Time until all K agents are solved (greedy mean ≥ the threshold at some evaluation), compilation included:
    each run's seconds (— where not every agent solved within the budget), their median, the steps per agent, the
    compilation or construction, how many agents had passed in each run, and how many of them were at or above the
    threshold at the evaluation that ended the run (an agent that passed once may have dropped below since)."""
    solve = data["summary"]["solve"]
    if solve is None:
        return "*The time to solve was not measured in this run (`--no-solve`).*"
    settings = data["settings"]["solve"]
    agents = settings["K"]
    rows = []
    for library in ("typedrl", "rejax"):
        if library not in solve:
            continue
        entry = solve[library]
        runs = [row for row in data["results"] if row["kind"] == "solve" and row["library"] == library]
        each = ", ".join("—" if row["seconds_to_solve"] is None else f"{row['seconds_to_solve']:.1f} s" for row in runs)
        median, steps = entry["seconds_median"], entry["steps_median"]
        if library == "rejax":
            setup = f"compilation {statistics.median(row['compile_seconds'] for row in runs):.1f} s"
        else:
            setup = f"construction {statistics.median(row['construct_seconds'] for row in runs):.2f} s, no compilation"
        rows.append(
            [
                library,
                f"{entry['solved_runs']} of {entry['runs']}",
                each,
                "—" if median is None else f"{median:.1f} s",
                "—" if steps is None else f"{steps:,.0f}",
                setup,
                ", ".join(f"{round(row['passed_fraction'] * agents)}/{agents}" for row in runs),
                ", ".join(f"{round(row['final_fraction'] * agents)}/{agents}" for row in runs),
            ]
        )
    header = [
        f"K = {agents}",
        "runs all solved",
        "time to solve, each run",
        "median",
        "steps per agent (median)",
        "before training (median)",
        f"agents ≥ {data['settings']['threshold']:g} once, each run",
        "of them ≥ it at that last evaluation",
    ]
    return markdown_table(header, rows)


def scale_table(data: Data) -> str:
    """Sync against async vector env: environment steps per second at each N (medians) and their ratio, with the
    target at two workers."""
    target = data["settings"]["target_ratio_two_workers"]
    rows = [
        [
            str(line["N"]),
            f"{line['sync']:,.0f}",
            f"{line['async']:,.0f}",
            f"{line['ratio']:.2f}×",
            (f"≥ {target:g}×" + ("" if line["ratio"] >= target else " (missed)")) if line["N"] == 2 else "—",
        ]
        for line in data["summary"]["table"]
    ]
    header = ["N", "sync, env steps/s", "async, env steps/s", "async / sync", "target"]
    return markdown_table(header, rows)


# (benchmark, part) -> renderer; part "" is the plain ``<!-- bench-table: NAME -->``.
TABLES: dict[tuple[str, str], Callable[[Data], str]] = {
    ("returns", ""): returns_table,
    ("returns", "cuda"): returns_cuda,
    ("returns", "operations"): returns_operations,
    ("envs", ""): envs_table,
    ("records", ""): records_construction,
    ("records", "collection"): records_collection,
    ("ppo", ""): curves_table,
    ("ppo", "medians"): curves_medians,
    ("ppo", "acrobot"): ppo_acrobot,
    ("reinforce", ""): reinforce_table,
    ("continuous", ""): continuous_summary,
    **{("continuous", task): continuous_task(task) for task in ("pendulum", "lunarlander", "halfcheetah")},
    ("throughput", ""): throughput_table,
    ("throughput", "solve"): throughput_solve,
    ("scale", ""): scale_table,
}
FIGURES: dict[tuple[str, str], Callable[[Data], str]] = {
    ("returns", "checks"): returns_checks,
    ("envs", "checks_alone"): envs_checks_alone,
    ("envs", "checks_alone_growth"): envs_checks_alone_growth,
    ("envs", "checks_native"): envs_checks_native,
    ("envs", "throughput_native"): envs_throughput_native,
    ("envs", "checks_per_env"): envs_checks_per_env,
    ("records", "jaxtyping"): records_jaxtyping,
    ("ppo", "targets"): ppo_targets,
    ("reinforce", "ratio"): reinforce_ratio,
}


def render(data: Data, kind: str = "table", part: str = "") -> str:
    """One table (without its citation) or one figure of a loaded results file."""
    name = data["benchmark"]
    registry = TABLES if kind == "table" else FIGURES
    renderer = registry.get((name, part))
    if renderer is None:
        known = ", ".join(" ".join(key).strip() for key in registry if key[0] == name) or "none"
        raise BenchTableError(f"bench-{kind}: no {kind} {part or '(default)'!r} for {name!r}; known: {known}")
    try:
        return renderer(data)
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise BenchTableError(
            f"{results_file(name)} lacks what the {kind} {part or name!r} needs ({type(error).__name__}: {error}):"
            f" written by an older script? Regenerate it with `python bench/bench_{name}.py`"
        ) from None


def render_markers(markdown: str, results: Path) -> str:
    """Replace every benchmark marker in ``markdown`` from the files in ``results`` (``bench/results``)."""
    loaded: dict[str, Data] = {}

    def replace(match: re.Match[str]) -> str:
        kind, name, part = match.group(1), match.group(2), match.group(3) or ""
        try:
            if name not in loaded:
                loaded[name] = load(results, name)
            if kind == "figure" and not part:
                raise BenchTableError("a bench-figure marker names a benchmark and a figure")
            text = render(loaded[name], kind, part)
        except BenchTableError as error:
            raise BenchTableError(f"{match.group(0)}: {error}") from None
        return f"{text}\n\n{citation(loaded[name])}" if kind == "table" else text

    return MARKER.sub(replace, markdown)
