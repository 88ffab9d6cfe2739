"""GAE on a batch of rollouts, checked against typedrl's plain-Python specification.

Run: ``python examples/gae_demo.py``. It builds 8 environments x 128 steps of random rewards, values and
episode ends (some terminated, some truncated by a time limit), computes advantages, λ-returns and the
normalized advantages with the fast tensor functions, and compares every column with :mod:`typedrl.spec`.
"""

import torch

import typedrl
from typedrl import spec


def main() -> None:
    generator = torch.Generator().manual_seed(0)
    horizon, n_envs = 128, 8
    rewards = torch.rand(horizon, n_envs, generator=generator, dtype=torch.float64)
    values = torch.randn(horizon, n_envs, generator=generator, dtype=torch.float64)
    next_values = torch.randn(horizon, n_envs, generator=generator, dtype=torch.float64)
    terminated = torch.rand(horizon, n_envs, generator=generator) < 0.02
    truncated = torch.rand(horizon, n_envs, generator=generator) < 0.01

    advantages = typedrl.gae(rewards, values, next_values, terminated, truncated, gamma=0.99, lam=0.95)
    targets = typedrl.lambda_returns(rewards, values, next_values, terminated, truncated, gamma=0.99, lam=0.95)
    normalized = typedrl.normalize_advantages(advantages)

    worst = 0.0
    for n in range(n_envs):
        reference = spec.gae(
            rewards[:, n].tolist(),
            values[:, n].tolist(),
            next_values[:, n].tolist(),
            terminated[:, n].tolist(),
            truncated[:, n].tolist(),
            gamma=0.99,
            lam=0.95,
        )
        worst = max(worst, float((advantages[:, n] - torch.tensor(reference, dtype=torch.float64)).abs().max()))

    episodes_ended = int((terminated | truncated).sum())
    print(f"rollout: {horizon} steps x {n_envs} envs, {episodes_ended} episode ends")
    print(f"advantages: mean {float(advantages.mean()):+.4f}, std {float(advantages.std()):.4f}")
    print(f"lambda-returns: mean {float(targets.mean()):+.4f}")
    print(f"normalized: mean {float(normalized.mean()):+.1e}, population std {float(normalized.std(correction=0)):.6f}")
    print(f"largest difference from typedrl.spec.gae: {worst:.1e}")
    if worst > 1e-9:
        raise SystemExit("the fast GAE disagrees with the specification")


if __name__ == "__main__":
    main()
