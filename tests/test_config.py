"""Configs: presets, file loading, and the errors a user sees for bad values."""

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from typedrl.config import Layer, PPOConfig, build, load_config, ppo_preset, read_config_file, reinforce_preset
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
    assert (config.updates, config.min_steps_per_update, config.learning_rate, config.hidden, config.gamma) == (
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
            "ppo_preset overrides: num_envs: Input should be greater than or equal to 1 (got 0)",
        ),
        ({"gamma": 1.5}, "gamma", "ppo_preset overrides: gamma: Input should be less than or equal to 1 (got 1.5)"),
        ({"bogus": 1}, "bogus", "ppo_preset overrides: bogus: Extra inputs are not permitted (got 1)"),
        (
            {"eval": {"episodes": "x"}},
            "eval.episodes",
            "ppo_preset overrides: eval.episodes: Input should be a valid integer (got 'x')",
        ),
        (
            {"minibatches": 10_000},
            "minibatches, horizon, num_envs",
            "ppo_preset overrides: minibatches, horizon, num_envs: minibatches is 10000; expected at most "
            "horizon·num_envs = 256",
        ),
        ({"num_envs": True}, "num_envs", "ppo_preset overrides: num_envs: Input should be a valid integer (got True)"),
        ({"num_envs": 8.0}, "num_envs", "ppo_preset overrides: num_envs: Input should be a valid integer (got 8.0)"),
        (
            {"learning_rate": float("nan")},
            "learning_rate",
            "ppo_preset overrides: learning_rate: Input should be a finite number (got nan)",
        ),
        (
            {"target_return": float("inf")},
            "target_return",
            "ppo_preset overrides: target_return: Input should be a finite number (got inf)",
        ),
        (
            {"seed": 2**32},
            "seed",
            "ppo_preset overrides: seed: Input should be less than or equal to 4294967295 (got 4294967296)",
        ),
        (
            {"hidden": 65536, "layers": 64},
            "hidden, layers",
            "ppo_preset overrides: hidden, layers: hidden 65536 with layers 64 makes about 270,587,199,488 parameters"
            " per network; expected at most 268,435,456",
        ),
    ],
)
def test_bad_values_name_the_field(overrides: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ppo_preset(**overrides)
    assert caught.value.field == field
    assert str(caught.value).startswith(message)


def test_numpy_scalars_are_the_numbers_they_hold() -> None:
    config = ppo_preset(gamma=np.float32(0.99), num_envs=np.int64(4), eval={"episodes": np.int32(3)})
    assert (config.gamma, config.num_envs, config.eval.episodes) == (float(np.float32(0.99)), 4, 3)
    assert type(config.num_envs) is int


def test_an_error_is_blamed_on_the_layer_that_set_it(tmp_path: Path) -> None:
    file = tmp_path / "run.toml"
    file.write_text("learning_rate = nan\n")
    with pytest.raises(ConfigError) as caught:
        build(PPOConfig, [("ppo preset 'default'", {}), (f"config file {str(file)!r}", read_config_file(file))])
    assert str(caught.value) == f"config file {str(file)!r}: learning_rate: Input should be a finite number (got nan)"
    preset: Layer = ("ppo preset 'default'", {})
    too_big: Layer = ("config file 'a.toml'", {"horizon": 4096, "num_envs": 2**15})
    with pytest.raises(ConfigError, match=r"^config file 'a.toml': horizon, num_envs: horizon·num_envs is 134217728"):
        build(PPOConfig, [preset, too_big, ("--seed", {"seed": 3})])
    long: Layer = ("config file 'a.toml'", {"horizon": 4096})
    with pytest.raises(ConfigError, match=r"^--num-envs: horizon·num_envs is 268435456; expected at most 67108864"):
        build(PPOConfig, [preset, long, ("--num-envs", {"num_envs": 2**16})])


def test_reinforce_reads_the_old_names_of_its_budget_with_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match=r"is now") as caught:
        config = reinforce_preset(epochs=3, min_steps_per_epoch=100)
    assert sorted(str(warning.message) for warning in caught) == [
        "ReinforceConfig: 'epochs' is now 'updates'",
        "ReinforceConfig: 'min_steps_per_epoch' is now 'min_steps_per_update'",
    ]
    assert (config.updates, config.min_steps_per_update) == (3, 100)
    with pytest.raises(ConfigError, match=r"epochs, updates: epochs is the old name of updates; give one of them"):
        reinforce_preset(epochs=3, updates=4)


def test_one_config_union_discriminated_on_algo() -> None:
    from pydantic import TypeAdapter

    from typedrl.config import Config, config_class

    adapter: TypeAdapter[Config] = TypeAdapter(Config)
    assert type(adapter.validate_python({"algo": "ppo", "updates": 3})) is PPOConfig
    assert adapter.validate_python({"algo": "reinforce", "updates": 3}).algo == "reinforce"
    assert config_class("ppo") is PPOConfig
    with pytest.raises(ConfigError, match=r"^algo is 'sac'; expected one of 'ppo', 'reinforce'"):
        config_class("sac")


def test_ppo_minibatches_by_count_or_size() -> None:
    assert ppo_preset().minibatch_count == 1
    assert ppo_preset(minibatches=4).minibatch_count == 4
    assert ppo_preset(minibatch_size=64).minibatch_count == 4  # 32 steps x 8 envs = 256
    with pytest.raises(ConfigError, match=r"minibatches is 2 and minibatch_size is 64; expected at most one"):
        ppo_preset(minibatches=2, minibatch_size=64)
    with pytest.raises(ConfigError, match=r"minibatch_size is 100; expected a divisor of horizon·num_envs = 256"):
        ppo_preset(minibatch_size=100)


def test_unknown_preset() -> None:
    expected = (
        r"^preset is 'nope'; expected one of default, sb3-zoo, acrobot, pendulum, lunarlander, halfcheetah, "
        r"torchlean, tensor-cartpole$"
    )
    with pytest.raises(ConfigError, match=expected):
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
    toml_file.write_text('algo = "reinforce"\nupdates = 3\n')
    loaded = load_config(json_file)
    assert isinstance(loaded, PPOConfig)
    assert (loaded.seed, loaded.eval.every) == (7, 2)
    assert load_config(toml_file).model_dump()["updates"] == 3


def test_config_file_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match=r"is not valid JSON: Expecting property name"):
        read_config_file(broken)
    for name, text, problem in (
        ("bad.yaml", "a: [1,", "is not valid YAML: "),
        ("bad.toml", "a = ", "is not valid TOML: "),
        ("big.json", '{"seed": ' + "1" * 5000 + "}", "is not valid JSON: Exceeds the limit (4300 digits)"),
        ("inf.yaml", "clip: .inf\n", ": clip: Input should be a finite number (got inf)"),
        ("run.ini", "x=1", "the suffix '.ini' names no format; expected one of .json, .toml, .yaml, .yml"),
    ):
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(ConfigError) as caught:
            read_config_file(path)
        assert problem in str(caught.value), str(caught.value)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"env_id": "\xe9"}')
    with pytest.raises(ConfigError, match=r"is not UTF-8 text \(byte 12: b'\\xe9'\)$"):
        read_config_file(latin)
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(ConfigError, match=r"holds a list; expected a table of fields"):
        read_config_file(listing)
    with pytest.raises(ConfigError, match=r"cannot be read"):
        read_config_file(tmp_path / "missing.toml")


def test_config_error_pickles() -> None:
    error = pickle.loads(pickle.dumps(ConfigError("bad", "eval.every")))
    assert (str(error), error.field) == ("bad", "eval.every")


def test_yaml_aliases_and_byte_order_marks(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text('a: &a ["lol", "lol"]\nb: &b [*a, *a, *a]\n')
    with pytest.raises(ConfigError, match=r"is not valid YAML: an alias \(\*a\) at line 2: config files take no"):
        read_config_file(bomb)
    marked = tmp_path / "marked.json"
    marked.write_bytes(b'\xef\xbb\xbf{"seed": 3}')
    assert read_config_file(marked) == {"seed": 3}


def test_a_partial_eval_table_keeps_the_algorithms_eval_defaults() -> None:
    assert reinforce_preset(eval={"episodes": 2}).eval.every == 0
    assert ppo_preset(eval={"episodes": 2}).eval.every == 8
