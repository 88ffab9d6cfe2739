"""The training log: records, the atomic writer, the checked reader, and the schema."""

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import pytest
import torch

from typedrl.errors import RunLogError
from typedrl.runlog import SCHEMA_VERSION, RunLog, TrainLog, json_schema, load_trainlog

DOCS = Path(__file__).resolve().parent.parent / "docs" / "artifacts.md"


def new_log(path: Path, **kwargs: Any) -> RunLog:
    settings: dict[str, Any] = {"algo": "ppo", "env_id": "CartPole-v1", "seed": 3, "config": {"lr": 3e-4, "hidden": 32}}
    return RunLog(path, **(settings | kwargs))


def add_update(log: RunLog, update: int, **kwargs: Any) -> None:
    fields: dict[str, Any] = {
        "update": update,
        "env_steps": 64 * update,
        "wall_seconds": 0.01 * update,
        "losses": {"policy": -0.01 * update, "value": 1.0 / (1 + update), "total": 0.5},
        "entropy": 0.69,
        "learning_rate": 3e-4,
        "episodes": 2,
        "episode_return_mean": 10.0 + update,
        "approx_kl": 1e-3,
        "clip_fraction": 0.125,
    }
    log.record_update(**(fields | kwargs))


def run(path: Path, *, wall: float = 0.0, started_at: str = "2025-01-01T00:00:00+00:00") -> RunLog:
    """A small deterministic run: 4 updates, an evaluation before training and after every second update."""
    log = new_log(path, started_at=started_at, versions={"typedrl": "x"})
    log.record_evaluation(update=0, env_steps=0, wall_seconds=wall, returns=[9.0, 11.0])
    for update in range(1, 5):
        add_update(log, update, wall_seconds=wall + update)
        if update % 2 == 0:
            log.record_evaluation(
                update=update, env_steps=64 * update, wall_seconds=wall + update, returns=[20.0, 30.5]
            )
            log.write()
    return log


def test_round_trip(tmp_path: Path) -> None:
    log = run(tmp_path / "trainlog.json")
    assert log.finish() == tmp_path / "trainlog.json"
    loaded = load_trainlog(tmp_path / "trainlog.json")
    assert loaded == log.snapshot()
    assert loaded.finished
    assert loaded.schema_version == SCHEMA_VERSION
    assert [record.update for record in loaded.updates] == [1, 2, 3, 4]
    evaluation = loaded.evaluations[1]
    assert (evaluation.mean, evaluation.std, evaluation.min, evaluation.max) == (25.25, 5.25, 20.0, 30.5)
    assert loaded.widget.steps == [0, 128, 256]
    assert [(line.name, line.values) for line in loaded.widget.series] == [
        ("eval mean return", [10.0, 25.25, 25.25]),
        ("eval min return", [9.0, 20.0, 20.0]),
        ("eval max return", [11.0, 30.5, 30.5]),
    ]
    assert loaded.widget.notes == [
        "seed 3; greedy policy, undiscounted return",
        "best eval mean 25.25 at env step 128 (update 2)",
    ]


def test_identical_runs_have_identical_figures(tmp_path: Path) -> None:
    first = run(tmp_path / "a.json", wall=0.0).snapshot()
    second = run(tmp_path / "b.json", wall=7.5, started_at="2025-06-01T12:00:00+02:00").snapshot()
    assert first != second
    assert first.figures() == second.figures()
    assert "wall_seconds" not in json.dumps(first.figures())


def test_file_on_disk_is_always_a_complete_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "trainlog.json"
    log = new_log(path)
    for update in range(1, 6):
        add_update(log, update)
        log.write()
        assert len(load_trainlog(path).updates) == update
    before = path.read_bytes()

    def crash(descriptor: int) -> None:
        raise OSError("disk gone")

    add_update(log, 6)
    monkeypatch.setattr(os, "fsync", crash)  # dies after writing the new text, before the rename
    with pytest.raises(OSError, match="disk gone"):
        log.write()
    assert path.read_bytes() == before
    with pytest.raises(RunLogError):  # a bad record between writes leaves the log and the file as they were
        add_update(log, 7, losses={"policy": math.nan})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trainlog.json"]  # no temporary files left behind


def test_non_finite_and_out_of_range_fields_are_named(tmp_path: Path) -> None:
    log = new_log(tmp_path / "trainlog.json")
    with pytest.raises(RunLogError) as caught:
        add_update(log, 1, losses={"policy": math.nan})
    assert (
        str(caught.value) == "RunLog.record_update: update 1: losses.policy: Input should be a finite number (got nan)"
    )
    with pytest.raises(RunLogError) as caught:
        add_update(log, 1, entropy=math.inf)
    assert str(caught.value) == "RunLog.record_update: update 1: entropy: Input should be a finite number (got inf)"
    with pytest.raises(RunLogError) as caught:
        add_update(log, 1, episodes=0)
    assert str(caught.value) == (
        "RunLog.record_update: update 1: episodes is 0 and episode_return_mean is 11.0; expected a mean exactly "
        "when at least one episode ended"
    )
    with pytest.raises(RunLogError, match=r"^RunLog.record_update: update 0: update: Input should be greater"):
        add_update(log, 0)
    with pytest.raises(RunLogError) as caught:
        log.record_evaluation(update=1, env_steps=64, wall_seconds=0.0, returns=[1.0, math.nan])
    assert str(caught.value) == (
        "RunLog.record_evaluation: update 1: returns.1: Input should be a finite number (got nan)"
    )
    with pytest.raises(RunLogError, match=r"returns: List should have at least 1 item"):
        log.record_evaluation(update=1, env_steps=64, wall_seconds=0.0, returns=[])
    with pytest.raises(RunLogError) as caught:
        new_log(tmp_path / "x.json", config={"schedule": [1e-3, math.nan]})
    assert (
        str(caught.value) == "RunLog: config.schedule[1] is nan; expected a finite number (JSON has no NaN or infinity)"
    )
    with pytest.raises(RunLogError, match=r"^RunLog: config.device is a device; expected JSON data$"):
        new_log(tmp_path / "x.json", config={"device": torch.device("cpu")})
    with pytest.raises(RunLogError, match=r"^RunLog: started_at is 'yesterday'; expected an ISO 8601 time$"):
        new_log(tmp_path / "x.json", started_at="yesterday")


def test_records_must_come_in_order_and_not_after_finish(tmp_path: Path) -> None:
    log = new_log(tmp_path / "trainlog.json")
    add_update(log, 2)
    with pytest.raises(RunLogError) as caught:
        add_update(log, 2, env_steps=200)
    assert str(caught.value) == (
        "RunLog.record_update: update 2 at env step 200 follows update 2 at env step 128; "
        "expected increasing updates and non-decreasing env steps"
    )
    with pytest.raises(RunLogError, match="update 3 at env step 100 follows update 2 at env step 128"):
        add_update(log, 3, env_steps=100)
    log.finish()
    with pytest.raises(RunLogError, match=r"^RunLog.record_update: the log is finished; nothing more can be recorded$"):
        add_update(log, 3)


def test_resume_keeps_records_up_to_the_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "trainlog.json"
    log = run(path)
    log.note("stopped early")
    log.write()
    resumed = RunLog.resume(path, through_update=2)
    assert [record.update for record in resumed.updates] == [1, 2]
    assert [record.update for record in resumed.evaluations] == [0, 2]
    assert resumed.notes == ["stopped early"]
    assert resumed.started_at == log.started_at
    add_update(resumed, 3, wall_seconds=3.0)
    add_update(resumed, 4, wall_seconds=4.0)
    resumed.record_evaluation(update=4, env_steps=256, wall_seconds=4.0, returns=[20.0, 30.5])
    assert resumed.snapshot() == log.snapshot()


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def valid_data(tmp_path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(run(tmp_path / "valid.json").write().read_text())
    return data


def test_load_errors_name_the_file_and_the_problem(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(RunLogError) as caught:
        load_trainlog(missing)
    assert str(caught.value) == f"load_trainlog: {missing}: no such file"

    broken = tmp_path / "broken.json"
    broken.write_text('{"schema_version": 1, "algo": ')
    with pytest.raises(RunLogError) as caught:
        load_trainlog(broken)
    assert str(caught.value) == f"load_trainlog: {broken}: invalid JSON: Expecting value: line 1 column 31 (char 30)"

    array = write_json(tmp_path / "array.json", [1, 2])
    with pytest.raises(RunLogError, match=r"the top level is a list; expected an object$"):
        load_trainlog(array)

    newer = write_json(tmp_path / "newer.json", valid_data(tmp_path) | {"schema_version": 3})
    with pytest.raises(RunLogError) as caught:
        load_trainlog(newer)
    assert str(caught.value) == (
        f"load_trainlog: {newer}: schema_version is 3; expected one of 1, 2 (the versions this typedrl reads)"
    )
    # A log of typedrl 0.1 (schema 1: no top-level notes, none of the fields version 2 added) still reads.
    older = valid_data(tmp_path) | {"schema_version": 1}
    older.pop("notes")
    for record in older["updates"]:
        for field in ("episode_length_mean", "explained_variance", "clip_range", "epochs"):
            record.pop(field, None)
    for record in older["evaluations"]:
        record.pop("lengths", None)
    assert load_trainlog(write_json(tmp_path / "older.json", older)).schema_version == 1

    data = valid_data(tmp_path)
    data["updates"][1]["losses"]["policy"] = math.nan  # json.dumps writes the non-standard NaN literal
    nan_file = write_json(tmp_path / "nan.json", data)
    with pytest.raises(RunLogError) as caught:
        load_trainlog(nan_file)
    assert str(caught.value) == (
        f"load_trainlog: {nan_file}: updates.1.losses.policy: Input should be a finite number (got nan)"
    )

    data = valid_data(tmp_path)
    del data["seed"]
    data["evaluations"][0]["mean"] = 99.0
    bad = write_json(tmp_path / "bad.json", data)
    with pytest.raises(RunLogError) as caught:
        load_trainlog(bad)
    assert str(caught.value) == (
        f"load_trainlog: {bad}: seed: Field required; "
        "evaluations.0: mean 99.0 and std 1.0 do not match the returns (10.0, 1.0)"
    )

    data = valid_data(tmp_path)
    data["surprise"] = True
    extra = write_json(tmp_path / "extra.json", data)
    with pytest.raises(RunLogError, match=r"surprise: Extra inputs are not permitted \(got True\)$"):
        load_trainlog(extra)


def test_json_schema_describes_every_field() -> None:
    schema = json_schema()
    assert schema["title"] == "TrainLog"
    assert schema["properties"]["schema_version"]["enum"] == [1, 2]
    for model in [schema, *schema["$defs"].values()]:
        for name, field in model["properties"].items():
            assert field.get("description"), f"{model['title']}.{name} has no description"


def test_docs_page_lists_every_field() -> None:
    documented = set(re.findall(r"^\| `(\w+)` \|", DOCS.read_text(encoding="utf-8"), flags=re.MULTILINE))
    schema = json_schema()
    fields = {name for model in [schema, *schema["$defs"].values()] for name in model["properties"]}
    assert fields <= documented, f"docs/artifacts.md misses {sorted(fields - documented)}"


def test_trainlog_validates_order_when_loaded(tmp_path: Path) -> None:
    data = valid_data(tmp_path)
    data["updates"].reverse()
    with pytest.raises(RunLogError, match=r"updates: update 3 at env step 192 follows update 4 at env step 256"):
        load_trainlog(write_json(tmp_path / "reversed.json", data))
    assert isinstance(TrainLog.model_validate(valid_data(tmp_path)), TrainLog)
