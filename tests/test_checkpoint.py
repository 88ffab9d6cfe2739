"""Checkpoints: a resumed run continues exactly, and loading never unpickles arbitrary objects."""

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from typedrl.checkpoint import (
    FORMAT_VERSION,
    _digest,
    capture_rng,
    load_checkpoint,
    restore,
    restore_rng,
    save_checkpoint,
)
from typedrl.errors import CheckpointError

CONFIG: dict[str, Any] = {"algo": "ppo", "lr": 1e-2, "hidden": [8, 8], "env": {"id": "CartPole-v1"}}


class Payload:
    """An arbitrary class: unpickling it would mean running code from the file."""

    def __init__(self) -> None:
        self.value = 1


def make_agent(seed: int) -> tuple[nn.Module, nn.Module, torch.optim.Adam]:
    torch.manual_seed(seed)
    actor = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    critic = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    return actor, critic, torch.optim.Adam([*actor.parameters(), *critic.parameters()], lr=1e-2)


def train_step(actor: nn.Module, critic: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """One Adam step on a loss that draws its batch from torch's global RNG (so the RNG state matters)."""
    observations = torch.randn(16, 4)
    loss = actor(observations).logsumexp(-1).mean() + critic(observations).square().mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def draws() -> tuple[list[float], list[float], float]:
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), random.random()


def save(path: Path, actor: nn.Module, critic: nn.Module, optimizer: torch.optim.Optimizer) -> Path:
    return save_checkpoint(
        path,
        modules={"actor": actor, "critic": critic},
        optimizers={"adam": optimizer},
        config=CONFIG,
        progress={"update": 3, "env_steps": 192, "wall_seconds": 1.5},
        rng=capture_rng(),
        extra={"note": "three updates", "env_seeds": (1, 2)},
    )


def test_resume_continues_exactly(tmp_path: Path) -> None:
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    actor, critic, optimizer = make_agent(0)
    for _ in range(3):
        train_step(actor, critic, optimizer)
    path = save(tmp_path / "ckpt.pt", actor, critic, optimizer)
    train_step(actor, critic, optimizer)  # the uninterrupted run goes on
    expected_draws = draws()
    probe = torch.linspace(-1, 1, 8).reshape(2, 4)

    checkpoint = load_checkpoint(path)
    assert checkpoint.config == CONFIG
    assert checkpoint.progress == {"update": 3, "env_steps": 192, "wall_seconds": 1.5}
    assert checkpoint.extra == {"note": "three updates", "env_seeds": (1, 2)}
    fresh_actor, fresh_critic, fresh_optimizer = make_agent(99)  # other weights, empty optimizer state
    restore(checkpoint, modules={"actor": fresh_actor, "critic": fresh_critic}, optimizers={"adam": fresh_optimizer})
    saved_state = checkpoint.optimizers["adam"]["state"]
    for index, state in fresh_optimizer.state_dict()["state"].items():
        for key, value in state.items():
            assert torch.equal(value, saved_state[index][key])
    train_step(fresh_actor, fresh_critic, fresh_optimizer)  # the resumed run makes the same update
    for resumed, uninterrupted in zip(
        [*fresh_actor.parameters(), *fresh_critic.parameters()],
        [*actor.parameters(), *critic.parameters()],
        strict=True,
    ):
        assert torch.equal(resumed, uninterrupted)
    assert torch.equal(fresh_actor(probe), actor(probe))
    assert draws() == expected_draws  # torch, numpy and Python streams all continue


def test_rng_round_trip() -> None:
    state = capture_rng()
    first = draws()
    np.random.standard_normal()  # leaves a cached Gaussian in numpy's legacy state
    restore_rng(state)
    assert draws() == first


def test_restore_only_what_is_asked_and_refuse_what_does_not_fit(tmp_path: Path) -> None:
    actor, critic, optimizer = make_agent(0)
    checkpoint = load_checkpoint(save(tmp_path / "ckpt.pt", actor, critic, optimizer))
    lone_actor = make_agent(1)[0]
    restore(checkpoint, modules={"actor": lone_actor}, rng=False)
    assert all(torch.equal(a, b) for a, b in zip(lone_actor.parameters(), actor.parameters(), strict=True))
    with pytest.raises(CheckpointError) as caught:
        restore(checkpoint, modules={"policy": lone_actor})
    assert (
        str(caught.value) == f"restore: {checkpoint.path}: no module 'policy'; the checkpoint has ['actor', 'critic']"
    )
    with pytest.raises(CheckpointError, match=r"module 'actor' does not fit: .*size mismatch"):
        restore(checkpoint, modules={"actor": nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2))})
    with pytest.raises(CheckpointError, match=r"optimizer 'adam' does not fit: "):
        restore(checkpoint, modules={}, optimizers={"adam": torch.optim.Adam(nn.Linear(2, 2).parameters())})


def test_a_pickled_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"format": "typedrl-checkpoint", "format_version": FORMAT_VERSION, "extra": Payload()}, path)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert message.startswith(f"load_checkpoint: {path}: refused: it holds objects beyond plain data (")
    assert f"GLOBAL {Payload.__module__}.Payload was not an allowed global" in message


@pytest.mark.parametrize("keep", [100, -200])
def test_truncated_files_are_refused(tmp_path: Path, keep: int) -> None:
    actor, critic, optimizer = make_agent(0)
    data = save(tmp_path / "ckpt.pt", actor, critic, optimizer).read_bytes()
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(data[:keep])
    with pytest.raises(CheckpointError, match=rf"^load_checkpoint: {damaged}: not a readable checkpoint"):
        load_checkpoint(damaged)


def test_files_that_are_not_checkpoints_say_what_they_are(tmp_path: Path) -> None:
    cases = {
        "empty.pt": (b"", "the file is empty; expected a checkpoint.pt written by typedrl"),
        "trainlog.json": (
            b'{\n  "schema_version": 1,\n  "algo": "ppo"}',
            "this is a JSON file (a trainlog.json?), not a checkpoint; pass the run's checkpoint.pt or its run "
            "directory",
        ),
        "notes.txt": (b"hello\n", "a text file; expected a checkpoint.pt written by typedrl"),
        "noise.bin": (bytes(range(128, 256)), "not a torch archive; expected a checkpoint.pt written by typedrl"),
    }
    for name, (data, problem) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(CheckpointError) as caught:
            load_checkpoint(path)
        assert str(caught.value) == f"load_checkpoint: {path}: {problem}"


def test_a_run_directory_reads_its_checkpoint(tmp_path: Path) -> None:
    actor, critic, optimizer = make_agent(0)
    save(tmp_path / "checkpoint.pt", actor, critic, optimizer)
    assert load_checkpoint(tmp_path).path == tmp_path / "checkpoint.pt"


def test_no_single_bit_flip_loads_as_different_contents(tmp_path: Path) -> None:
    """Every one-bit change of a small checkpoint is refused or leaves what it holds unchanged."""
    actor = nn.Linear(3, 2)
    path = save_checkpoint(
        tmp_path / "c.pt",
        modules={"actor": actor},
        optimizers={},
        config={"algo": "ppo", "seed": 3},
        progress={"done": 5, "env_steps": 640},
        extra={"note": "x"},
    )
    data = path.read_bytes()
    original = load_checkpoint(path)
    flipped = tmp_path / "flipped.pt"
    refused = loaded = 0
    for position in range(0, len(data), 3):  # every third byte, one bit each: ~750 files
        damaged = bytearray(data)
        damaged[position] ^= 1 << (position % 8)
        flipped.write_bytes(bytes(damaged))
        try:
            checkpoint = load_checkpoint(flipped)
        except CheckpointError:
            refused += 1
            continue
        loaded += 1
        assert torch.equal(checkpoint.modules["actor"]["weight"], original.modules["actor"]["weight"])
        assert torch.equal(checkpoint.modules["actor"]["bias"], original.modules["actor"]["bias"])
        assert (checkpoint.config, checkpoint.progress, checkpoint.extra) == (
            original.config,
            original.progress,
            original.extra,
        )
    assert refused > 0
    assert loaded > 0  # flips in zip padding and timestamps change nothing and load


def test_malformed_structure_is_refused_even_with_a_matching_digest(tmp_path: Path) -> None:
    actor, critic, optimizer = make_agent(0)
    payload = torch.load(save(tmp_path / "ckpt.pt", actor, critic, optimizer), weights_only=True)
    cases = [
        (payload | {"modules": {"model": "weights"}}, "modules['model'] is a str; expected a state dict (a dict)"),
        (
            payload | {"modules": {"model": {"weight": [1.0]}}},
            "modules['model']['weight'] is a list; expected a tensor",
        ),
        (payload | {"progress": {"done": float("inf")}}, "progress['done'] is inf; expected a finite number"),
        (payload | {"progress": {"done": "3"}}, "progress['done'] is '3'; expected a finite number"),
        (payload | {"config": {1: "x"}}, "config has a key that is not a string"),
        (payload | {"rng": {"numpy": 3}}, "rng is malformed (TypeError: cannot unpack non-iterable int object)"),
    ]
    for index, (data, problem) in enumerate(cases):
        data = dict(data)
        data["digest"] = _digest(data)
        path = tmp_path / f"case{index}.pt"
        torch.save(data, path)
        with pytest.raises(CheckpointError) as caught:
            load_checkpoint(path)
        assert str(caught.value) == f"load_checkpoint: {path}: {problem}"


def test_missing_files_keys_and_versions(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(tmp_path / "nowhere.pt")
    assert str(caught.value) == f"load_checkpoint: {tmp_path / 'nowhere.pt'}: no such file"
    actor, critic, optimizer = make_agent(0)
    payload = torch.load(save(tmp_path / "ckpt.pt", actor, critic, optimizer), weights_only=True)
    cases = [
        ({k: v for k, v in payload.items() if k != "optimizers"}, "missing key 'optimizers'"),
        (payload | {"format_version": 1}, f"format_version is 1; expected {FORMAT_VERSION}"),
        (
            payload | {"progress": [1, 2]},
            "the contents do not match the digest written with them (the file was "
            "damaged or edited); refusing to load it",
        ),
        (actor.state_dict(), "not a typedrl checkpoint (no format 'typedrl-checkpoint' marker)"),
    ]
    for index, (data, problem) in enumerate(cases):
        path = tmp_path / f"case{index}.pt"
        torch.save(data, path)
        with pytest.raises(CheckpointError) as caught:
            load_checkpoint(path)
        assert str(caught.value) == f"load_checkpoint: {path}: {problem}"


def test_save_refuses_what_could_not_be_loaded_and_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    actor, critic, optimizer = make_agent(0)
    path = save(tmp_path / "ckpt.pt", actor, critic, optimizer)
    before = path.read_bytes()
    with pytest.raises(CheckpointError) as caught:
        save_checkpoint(path, modules={}, optimizers={}, config={}, progress={}, extra={"obs": [np.zeros(3)]})
    assert str(caught.value) == (
        "save_checkpoint: checkpoint['extra']['obs'][0] is a ndarray; expected dicts, lists, tuples, str, int, "
        "float, bool, None or tensors (weights-only loading refuses anything else)"
    )
    with pytest.raises(CheckpointError, match=r"^save_checkpoint: progress\['update'\] is nan; expected a finite"):
        save_checkpoint(path, modules={}, optimizers={}, config={}, progress={"update": float("nan")})

    def crash(descriptor: int) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(CheckpointError, match=r"ckpt.pt: cannot write it: disk gone$"):
        save_checkpoint(path, modules={"actor": actor}, optimizers={}, config={}, progress={})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_checkpoint_loads_on_cpu_and_restores_cuda_rng(tmp_path: Path) -> None:
    actor = nn.Linear(4, 2).cuda()
    optimizer = torch.optim.Adam(actor.parameters())
    actor(torch.randn(3, 4, device="cuda")).sum().backward()
    optimizer.step()
    state = capture_rng()
    assert len(state.torch_cuda) == torch.cuda.device_count()
    modules, optimizers = {"actor": actor}, {"adam": optimizer}
    path = save_checkpoint(tmp_path / "c.pt", modules=modules, optimizers=optimizers, config={}, progress={}, rng=state)
    expected = torch.rand(4, device="cuda")
    checkpoint = load_checkpoint(path)  # map_location="cpu"
    assert checkpoint.modules["actor"]["weight"].device.type == "cpu"
    cpu_actor = nn.Linear(4, 2)
    restore(checkpoint, modules={"actor": cpu_actor})
    assert torch.equal(cpu_actor.weight, actor.weight.cpu())
    assert torch.equal(torch.rand(4, device="cuda"), expected)


def test_states_that_do_not_fit_are_refused_before_training(tmp_path: Path) -> None:
    actor, critic, optimizer = make_agent(0)
    train_step(actor, critic, optimizer)
    path = save(tmp_path / "ckpt.pt", actor, critic, optimizer)
    payload = torch.load(path, weights_only=True)
    first = next(iter(payload["optimizers"]["adam"]["state"]))
    payload["optimizers"]["adam"]["state"][first]["exp_avg"] = torch.zeros(7)
    payload["digest"] = _digest(payload)
    torch.save(payload, path)
    fresh_actor, _, fresh_optimizer = make_agent(1)
    with pytest.raises(CheckpointError, match=r"optimizer 'adam' does not fit: its state 'exp_avg' has shape \(7,\)"):
        restore(load_checkpoint(path), modules={"actor": fresh_actor}, optimizers={"adam": fresh_optimizer})
    before = torch.get_rng_state()
    state = capture_rng()
    broken = type(state)(state.torch_cpu[:3], state.torch_cuda, state.numpy, state.python)
    with pytest.raises(CheckpointError, match=r"^restore_rng: a saved random state does not fit its generator"):
        restore_rng(broken)
    assert torch.equal(torch.get_rng_state(), before)  # nothing half-restored


def test_map_location_cpu_with_an_index_is_the_cpu(tmp_path: Path) -> None:
    actor, critic, optimizer = make_agent(0)
    path = save(tmp_path / "ckpt.pt", actor, critic, optimizer)
    assert load_checkpoint(path, map_location="cpu:1").modules["actor"]["0.weight"].device.type == "cpu"
