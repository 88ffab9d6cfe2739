"""REINFORCE on CartPole-v1: typedrl against a plain-PyTorch rendering of the tch-rs example, in one run.

Run: ``python bench/bench_reinforce.py`` (``--seeds 1`` for a quick look). Both do the same work: 50 epochs,
each of whole episodes until more than 5000 steps, reward-to-go with γ = 1, one Adam step (lr 1e-2) on
``−mean(G · log π(a|s))``, policy ``Linear(4, 32) → Tanh → Linear(32, 2)``. The plain version steps one
environment with one forward per step, as the example does; typedrl plays 8 checked environments at once.
Reported per seed: seconds for the 50 epochs and the last epoch's mean episode return; then medians.
"""

import argparse
import statistics
import time

import gymnasium as gym
import torch
from torch import nn

from typedrl.algos.reinforce import Reinforce
from typedrl.config import reinforce_preset

EPOCHS = 50


def plain_pytorch(seed: int) -> tuple[float, float]:
    """The tch-rs example, written in plain PyTorch: returns (seconds, last epoch's mean return)."""
    torch.manual_seed(seed)
    env = gym.make("CartPole-v1")
    model = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    start = time.perf_counter()
    observation, _ = env.reset(seed=seed)
    last_mean = 0.0
    for _ in range(EPOCHS):
        observation, _ = env.reset()
        observations, actions, rewards, dones = [], [], [], []
        while True:
            obs = torch.as_tensor(observation, dtype=torch.float32)
            with torch.no_grad():
                action = int(torch.multinomial(model(obs).softmax(0), 1))
            next_observation, reward, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
            observations.append(obs)
            actions.append(action)
            rewards.append(float(reward))
            dones.append(done)
            observation = env.reset()[0] if done else next_observation
            if done and len(rewards) > 5000:
                break
        returns, following = [0.0] * len(rewards), 0.0
        for t in reversed(range(len(rewards))):
            following = rewards[t] + (0.0 if dones[t] else following)
            returns[t] = following
        logits = model(torch.stack(observations))
        log_probs = torch.log_softmax(logits, dim=1).gather(1, torch.tensor(actions).unsqueeze(1)).squeeze(1)
        loss = -(torch.tensor(returns) * log_probs).mean()
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        last_mean = sum(rewards) / sum(dones)
    return time.perf_counter() - start, last_mean


def typedrl_reinforce(seed: int) -> tuple[float, float]:
    algorithm = Reinforce(reinforce_preset(seed=seed))
    start = time.perf_counter()
    for _ in range(EPOCHS):
        stats = algorithm.epoch()
    return time.perf_counter() - start, stats.mean_return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results: dict[str, list[tuple[float, float]]] = {"plain PyTorch": [], "typedrl": []}
    for seed in range(args.seeds):
        for name, runner in (("plain PyTorch", plain_pytorch), ("typedrl", typedrl_reinforce)):
            seconds, last = runner(seed)
            results[name].append((seconds, last))
            print(
                f"{name:<14} seed {seed}: {EPOCHS} epochs in {seconds:5.1f}s, last-epoch mean return {last:6.1f}",
                flush=True,
            )
    print(f"\nmedians over {args.seeds} seeds")
    for name, runs in results.items():
        print(
            f"{name:<14} {statistics.median(s for s, _ in runs):5.1f}s, "
            f"last-epoch mean return {statistics.median(r for _, r in runs):6.1f}"
        )
    ratio = statistics.median(s for s, _ in results["typedrl"]) / statistics.median(
        s for s, _ in results["plain PyTorch"]
    )
    print(f"typedrl / plain PyTorch time: x{ratio:.2f} (target <= 0.5); last-epoch return target >= 450")


if __name__ == "__main__":
    main()
