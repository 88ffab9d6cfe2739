"""The Triton kernel for the backward recurrence on CUDA (imported only when Triton is installed).

One launch per call: program ``p`` owns trajectories ``[p·BLOCK, (p+1)·BLOCK)`` and walks time backwards, so
each element is read and written once. ``d`` and ``c`` are the package's (:mod:`typedrl._recurrence`); the
launch is ``_on_triton`` there. Triton kernels are not typeable Python, so mypy skips this module (mypy.ini).
Integer arguments equal to 1 arrive as Python constants (Triton specialises them), hence ``tl.cast``.
"""

import triton
import triton.language as tl


@triton.jit
def recurrence_kernel(
    out,
    r,
    v,
    nv,
    te,
    tr,
    gam,
    g0,
    lam,
    gl,
    tiny,
    T,
    N,
    GAE: tl.constexpr,
    HAS_GAM: tl.constexpr,
    HAS_NV: tl.constexpr,
    BLOCK: tl.constexpr,
):
    # GAE is true for Kind.GAE, false for Kind.RETURNS. g0 is the scalar discount, gl the scalar coefficient
    # g0 · λ (both zero only where exactly zero), tiny the smallest subnormal: see _on_triton. A coefficient that is
    # exactly zero multiplies nothing, so every product a zero could meet is a tl.where, never a multiplication by 0.
    columns = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = columns < N
    zero = tl.zeros([BLOCK], dtype=r.dtype.element_ty)
    if GAE:
        following = zero
    elif HAS_NV:  # the returns' bootstrap a[T] = V'[T-1], read only where the last step is not done
        last = tl.cast(T - 1, tl.int64) * N + columns
        done_last = (tl.load(te + last, mask=mask, other=0) != 0) | (tl.load(tr + last, mask=mask, other=0) != 0)
        following = tl.where(done_last, zero, tl.load(nv + last, mask=mask, other=0.0))
    else:
        following = zero
    for step in range(T):
        index = tl.cast(T - 1 - step, tl.int64) * N + columns
        reward = tl.load(r + index, mask=mask, other=0.0)
        term = tl.load(te + index, mask=mask, other=0) != 0
        done = term | (tl.load(tr + index, mask=mask, other=0) != 0)
        g = tl.load(gam + index, mask=mask, other=0.0) if HAS_GAM else zero + g0
        skip = term | (g == 0)
        if GAE:
            value = tl.load(v + index, mask=mask, other=0.0)
            bootstrap = tl.load(nv + index, mask=mask, other=0.0)
            d = reward + tl.where(skip, zero, g * bootstrap) - value
            if HAS_GAM:
                coefficient = tl.where((g == 0) | (lam == 0), zero, tl.maximum(g * lam, zero + tiny))
            else:
                coefficient = zero + gl
            c = tl.where(done, zero, coefficient)
        else:
            if HAS_NV:
                bootstrap = tl.load(nv + index, mask=mask, other=0.0)
                d = tl.where(done & (~skip), reward + g * bootstrap, reward)
            else:
                d = reward
            c = tl.where(done, zero, g)
        following = tl.where(c == 0, d, d + c * following)
        tl.store(out + index, following, mask=mask)
