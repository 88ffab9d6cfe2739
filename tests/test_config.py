"""Configs: presets, file loading, and the errors a user sees for bad values."""

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from typedrl.config import PPOConfig, load_config, ppo_preset, read_config_file, reinforce_preset
from typedrl.errors import ConfigError


def test_torchlean_preset_is_the_demo_configuration() -> None:
    config = ppo_preset("torchlean")
    assert (config.env_id, config.num_envs, config.horizon, config.hidden) == ("CartPole-v1", 1, 64, 32)
    assert (config.gamma, config.lam, config.learning_rate) == (0.99, 0.95, 3e-4)
    assert (config.epochs, config.minibatches, config.clip, config.value_coef, config.entropy_coef) == (
        2,
        1,
        0.2,
        0.5,
        0.01,
    )
    assert (config.updates, config.target_return) == (1000, 475.0)
    assert (config.eval.every, config.eval.episodes) == (50, 5)


def test_reinforce_defaults_are_the_tch_rs_example() -> None:
    config = reinforce_preset()
    assert (config.epochs, config.min_steps_per_epoch, config.learning_rate, config.hidden, config.gamma) == (
        50,
        5000,
        1e-2,
        32,
        1.0,
    )


def test_overrides_merge_into_nested_fields() -> None:
    config = ppo_preset("torchlean", eval={"episodes": 3})
    assert config.eval.episodes == 3
    assert config.eval.every == 50  # kept from the preset


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"num_envs": 0},
            "num_envs",
            "ppo preset 'default': num_envs: Input should be greater than or equal to 1 (got 0)",
        ),
        ({"gamma": 1.5}, "gamma", "ppo preset 'default': gamma: Input should be less than or equal to 1 (got 1.5)"),
        ({"bogus": 1}, "bogus", "ppo preset 'default': bogus: Extra inputs are not permitted (got 1)"),
        (
            {"eval": {"episodes": "x"}},
            "eval.episodes",
            "ppo preset 'default': eval.episodes: Input should be a valid integer, unable to parse string as an "
            "integer (got 'x')",
        ),
        (
            {"minibatches": 10_000},
            "(config)",
            "ppo preset 'default': (config): Value error, minibatches is 10000; expected at most horizon·num_envs"
            " = 256",
        ),
    ],
)
def test_bad_values_name_the_field(overrides: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ppo_preset(**overrides)
    assert caught.value.field == field
    assert str(caught.value).startswith(message)


def test_unknown_preset() -> None:
    with pytest.raises(ConfigError, match=r"^preset is 'nope'; expected one of default, sb3-zoo, torchlean$"):
        ppo_preset("nope")


def test_configs_are_frozen() -> None:
    config = ppo_preset()
    with pytest.raises(ValueError, match="frozen"):
        config.seed = 3


def test_every_field_is_described() -> None:
    for name, field in PPOConfig.model_fields.items():
        assert field.description, name


def test_load_json_and_toml(tmp_path: Path) -> None:
    json_file = tmp_path / "run.json"
    json_file.write_text(json.dumps({"algo": "ppo", "seed": 7, "eval": {"every": 2}}))
    toml_file = tmp_path / "run.toml"
    toml_file.write_text('algo = "reinforce"\nepochs = 3\n')
    loaded = load_config(json_file)
    assert isinstance(loaded, PPOConfig)
    assert (loaded.seed, loaded.eval.every) == (7, 2)
    assert load_config(toml_file).model_dump()["epochs"] == 3


def test_config_file_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match=r"is not valid json: Expecting property name"):
        read_config_file(broken)
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(ConfigError, match=r"holds a list; expected a table of fields"):
        read_config_file(listing)
    with pytest.raises(ConfigError, match=r"cannot be read"):
        read_config_file(tmp_path / "missing.toml")


def test_config_error_pickles() -> None:
    error = pickle.loads(pickle.dumps(ConfigError("bad", "eval.every")))
    assert (str(error), error.field) == ("bad", "eval.every")
