"""Test-wide settings: hypothesis profiles, and typedrl's shape checks on for every test.

Profiles (pick one with ``pytest --hypothesis-profile=NAME``):

* ``typedrl`` (the default): 100 examples per property, no per-example deadline (the first call of a
  compiled or Triton kernel is slow, and the CI machine has two cores);
* ``thorough``: 2,000 examples per property, for a long run before a release.
"""

from collections.abc import Iterator

import pytest
import torch
from hypothesis import settings

import typedrl

# Two cores: one torch thread per test process avoids thread oversubscription stalls (10x and more here).
torch.set_num_threads(1)

settings.register_profile("typedrl", max_examples=100, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile("typedrl")


@pytest.fixture(autouse=True)
def _shape_checks_on() -> Iterator[None]:
    """Every test runs with the runtime shape checks on (as a user gets them), whatever the environment says."""
    with typedrl.shape_checks(True):
        yield
