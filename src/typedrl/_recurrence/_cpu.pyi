KIND_GAE: int
KIND_RETURNS: int

def recurrence(
    kind: int,
    double: bool,
    out: int,
    rewards: int,
    values: int | None,
    next_values: int | None,
    terminated: int,
    truncated: int,
    gammas: int | None,
    gamma: float,
    lam: float,
    T: int,  # noqa: N803
    N: int,  # noqa: N803
    /,
) -> None: ...
def n_step(
    double: bool,
    out: int,
    rewards: int,
    next_values: int,
    terminated: int,
    truncated: int,
    gammas: int | None,
    gamma: float,
    n: int,
    T: int,  # noqa: N803
    N: int,  # noqa: N803
    /,
) -> None: ...
