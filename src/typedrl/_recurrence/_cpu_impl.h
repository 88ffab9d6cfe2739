/*
 * The recurrence kernels for one element type. Included by _cpu.c once per type with REAL (the C type) and
 * NAME(x) (appends the type's suffix) defined. See _cpu.c for the recurrence and for what d and c are.
 * Every helper is always_inline with its flags passed as constants, so each (kind, has_gam, has_nv) combination
 * compiles to its own branch-free loop.
 */

#define INLINE static inline __attribute__((always_inline))

/* GAE's recursion coefficient g * lam. Zero exactly where g or lam is zero, the terms nobody reads; a product
   that underflows from two nonzero factors is kept at the smallest subnormal, so it still reads (and an inf it
   multiplies stays inf, as in exact arithmetic). */
INLINE REAL NAME(coefficient)(REAL g, REAL lam)
{
    const REAL c = g * lam;
    return (g == (REAL)0 || lam == (REAL)0) ? (REAL)0 : (c < TRUE_MIN ? TRUE_MIN : c);
}

/* d and c of element i. "A coefficient that is exactly zero multiplies nothing": the bootstrap g * V' is not
   computed at a termination or where g == 0, so 0 * inf or 0 * NaN never enters d. With one scalar gamma,
   run() has taken g0 == 0 elsewhere, and gl is coefficient(g0, lam). */
INLINE void NAME(step)(const int kind, const int has_gam, const int has_nv, Py_ssize_t i, const REAL *restrict r,
                       const REAL *restrict v, const REAL *restrict nv, const uint8_t *restrict te,
                       const uint8_t *restrict tr, const REAL *restrict gam, REAL g0, REAL lam, REAL gl, REAL *d,
                       REAL *c)
{
    const REAL g = has_gam ? gam[i] : g0;
    const int term = te[i] != 0;
    const int done = term | (tr[i] != 0);
    const int bootstrap = has_gam ? !term & (g != (REAL)0) : !term;
    if (kind == KIND_GAE) {
        *d = r[i] + (bootstrap ? g * nv[i] : (REAL)0) - v[i];
        *c = done ? (REAL)0 : (has_gam ? NAME(coefficient)(g, lam) : gl);
    } else {
        *d = (has_nv && done && bootstrap) ? r[i] + g * nv[i] : r[i];
        *c = done ? (REAL)0 : g;
    }
}

#define ARGS_DECL                                                                                                 \
    const int kind, const int has_gam, const int has_nv, REAL *restrict out, const REAL *restrict r,              \
        const REAL *restrict v, const REAL *restrict nv, const uint8_t *restrict te, const uint8_t *restrict tr, \
        const REAL *restrict gam, REAL g0, REAL lam, REAL gl, Py_ssize_t T, Py_ssize_t N
#define STEP(i, d, c) NAME(step)(kind, has_gam, has_nv, (i), r, v, nv, te, tr, gam, g0, lam, gl, (d), (c))
/* a[T]: V'[T-1] for bootstrapped returns, read only where step T-1 is not done (a done last step has c = 0, and
   a NaN next value at a terminal step must not reach the output through 0 * NaN); else 0. */
#define INITIAL(n)                                                                                              \
    ((kind == KIND_RETURNS && has_nv && !(te[(T - 1) * N + (n)] | tr[(T - 1) * N + (n)])) ? nv[(T - 1) * N + (n)] \
                                                                                           : (REAL)0)

/* One row at a time: the loop over the row vectorises and reads the row below from out. Every step selects d
   alone where c == 0, so a non-finite a[t+1] never reaches a[t] through 0 * inf or 0 * NaN. This is the loop for
   N >= 64, and the exact fallback of the chunked one. */
INLINE void NAME(rows)(ARGS_DECL)
{
    for (Py_ssize_t n = 0; n < N; ++n) {
        REAL d, c;
        STEP((T - 1) * N + n, &d, &c);
        out[(T - 1) * N + n] = c == (REAL)0 ? d : d + c * INITIAL(n);
    }
    for (Py_ssize_t t = T - 2; t >= 0; --t) {
        REAL *restrict row = out + t * N;
        const REAL *restrict below = out + (t + 1) * N;
        for (Py_ssize_t n = 0; n < N; ++n) {
            REAL d, c;
            STEP(t * N + n, &d, &c);
            const REAL carried = d + c * below[n];
            row[n] = c == (REAL)0 ? d : carried;
        }
    }
}

/* Whether any of the n values is NaN or ±inf (x - x is 0 exactly for finite x). Vectorises: no early exit. */
INLINE int NAME(any_nonfinite)(const REAL *restrict p, Py_ssize_t n)
{
    int bad = 0;
    for (Py_ssize_t i = 0; i < n; ++i)
        bad |= !(p[i] - p[i] == (REAL)0);
    return bad;
}

/* Eight lanes of REAL. */
typedef REAL NAME(vec) __attribute__((vector_size(8 * sizeof(REAL))));

INLINE NAME(vec) NAME(load)(const REAL *p)
{
    NAME(vec) x;
    memcpy(&x, p, sizeof x);
    return x;
}

INLINE void NAME(store)(REAL *p, NAME(vec) x) { memcpy(p, &x, sizeof x); }

/* N < 64, in chunks of CHUNK time steps: first d and c of the whole chunk in one flat pass (independent
   elements: it vectorises fully), then the backward scan, which does little more than load, multiply-add and
   store: blocks of 8 columns in vector registers, and the N % 8 columns left over one at a time. Both fold four
   steps into one,  a[t-3] = D + C * a[t+1]  with D and C computed off the chain, so the dependency chain that
   bounds a long narrow scan is a quarter as long.
   The scan multiplies without selecting, which equals the select of the rows loop exactly as long as every
   value it stores is finite: then every a it multiplied was finite, and 0 * a is 0. So it sums what it stores,
   and a NaN or inf in the sum sends the whole call to the rows loop, which selects. Returns whether that is
   needed. */
#define CHUNK 64
#define FOLD4(a, d0, c0, d1, c1, d2, c2, d3, c3, o, stride, store, check)                                       \
    do {                                                                                                          \
        const __typeof__(a) a0_ = (d0) + (c0) * (a), a1_ = (d1) + (c1) * a0_, a2_ = (d2) + (c2) * a1_;            \
        const __typeof__(a) D_ = (d3) + (c3) * ((d2) + (c2) * ((d1) + (c1) * (d0))), C_ = ((c3) * (c2)) * ((c1) * (c0)); \
        store((o), a0_);                                                                                          \
        store((o) - (stride), a1_);                                                                               \
        store((o) - 2 * (stride), a2_);                                                                           \
        (a) = D_ + C_ * (a);                                                                                      \
        store((o) - 3 * (stride), (a));                                                                           \
        (check) += a2_;                                                                                           \
    } while (0)
#define SCALAR_STORE(p, x) (*(p) = (x))

INLINE int NAME(chunked)(ARGS_DECL)
{
    REAL dbuf[CHUNK * 64], cbuf[CHUNK * 64];
    NAME(vec) acc[8];
    REAL tail[8];
    /* A sum that is finite only if every value stored is. d + c * x is non-finite for non-finite d or x (no
       select here: 0 * inf is NaN), so in a fold a non-finite first or second value makes the third one
       non-finite, and a non-finite fourth (the carried a, as is a non-finite d anywhere in the fold) makes the
       next fold's third non-finite, or is a column's last value. Summing each fold's third value, the single
       steps and each column's last value is enough (a sum that overflows only costs a needless fallback): one
       add per four steps, beside the chain rather than on it. */
    NAME(vec) check = {0};
    REAL tail_check = 0;
    const Py_ssize_t lanes = N / 8;
    for (Py_ssize_t b = 0; b < lanes; ++b) {
        REAL initial[8];
        for (Py_ssize_t j = 0; j < 8; ++j)
            initial[j] = INITIAL(8 * b + j);
        acc[b] = NAME(load)(initial);
    }
    for (Py_ssize_t n = 8 * lanes; n < N; ++n)
        tail[n - 8 * lanes] = INITIAL(n);
    for (Py_ssize_t hi = T; hi > 0; hi -= CHUNK) {
        const Py_ssize_t lo = hi > CHUNK ? hi - CHUNK : 0;
        const Py_ssize_t count = (hi - lo) * N;
        for (Py_ssize_t i = 0; i < count; ++i)
            STEP(lo * N + i, &dbuf[i], &cbuf[i]);
        for (Py_ssize_t b = 0; b < lanes; ++b) {
            NAME(vec) a = acc[b];
            Py_ssize_t t = hi - 1;
            for (; t - 3 >= lo; t -= 4) {
                const Py_ssize_t k = (t - lo) * N + 8 * b;
                FOLD4(a, NAME(load)(dbuf + k), NAME(load)(cbuf + k), NAME(load)(dbuf + k - N),
                      NAME(load)(cbuf + k - N), NAME(load)(dbuf + k - 2 * N), NAME(load)(cbuf + k - 2 * N),
                      NAME(load)(dbuf + k - 3 * N), NAME(load)(cbuf + k - 3 * N), out + t * N + 8 * b, N,
                      NAME(store), check);
            }
            for (; t >= lo; --t) {
                const Py_ssize_t k = (t - lo) * N + 8 * b;
                a = NAME(load)(dbuf + k) + NAME(load)(cbuf + k) * a;
                NAME(store)(out + t * N + 8 * b, a);
                check += a;
            }
            acc[b] = a;
        }
        for (Py_ssize_t n = 8 * lanes; n < N; ++n) {
            REAL a = tail[n - 8 * lanes];
            Py_ssize_t t = hi - 1;
            for (; t - 3 >= lo; t -= 4) {
                const Py_ssize_t k = (t - lo) * N + n;
                FOLD4(a, dbuf[k], cbuf[k], dbuf[k - N], cbuf[k - N], dbuf[k - 2 * N], cbuf[k - 2 * N],
                      dbuf[k - 3 * N], cbuf[k - 3 * N], out + t * N + n, N, SCALAR_STORE, tail_check);
            }
            for (; t >= lo; --t) {
                const Py_ssize_t k = (t - lo) * N + n;
                a = dbuf[k] + cbuf[k] * a;
                out[t * N + n] = a;
                tail_check += a;
            }
            tail[n - 8 * lanes] = a;
        }
    }
    for (Py_ssize_t b = 0; b < lanes; ++b)
        check += acc[b];
    for (Py_ssize_t n = 8 * lanes; n < N; ++n)
        tail_check += tail[n - 8 * lanes];
    REAL lanes_check[8];
    NAME(store)(lanes_check, check);
    return NAME(any_nonfinite)(lanes_check, 8) | NAME(any_nonfinite)(&tail_check, 1);
}
#undef SCALAR_STORE
#undef FOLD4
#undef CHUNK

INLINE void NAME(shape)(ARGS_DECL)
{
    if (N >= 64 || NAME(chunked)(kind, has_gam, has_nv, out, r, v, nv, te, tr, gam, g0, lam, gl, T, N))
        NAME(rows)(kind, has_gam, has_nv, out, r, v, nv, te, tr, gam, g0, lam, gl, T, N);
}

/* The entry point for this type: turn the runtime flags into constants. */
TYPEDRL_CLONES static void NAME(run)(int kind, int has_gam, int has_nv, REAL *restrict out, const REAL *restrict r,
                                     const REAL *restrict v, const REAL *restrict nv, const uint8_t *restrict te,
                                     const uint8_t *restrict tr, const REAL *restrict gam, REAL g0, REAL lam,
                                     Py_ssize_t T, Py_ssize_t N)
{
    if (!has_gam && g0 == (REAL)0) { /* every term but the first is multiplied by gamma = 0: none is read */
        for (Py_ssize_t i = 0; i < T * N; ++i)
            out[i] = kind == KIND_GAE ? r[i] - v[i] : r[i];
        return;
    }
    const REAL gl = NAME(coefficient)(g0, lam);
#define CASE(K, G, V) NAME(shape)((K), (G), (V), out, r, v, nv, te, tr, gam, g0, lam, gl, T, N)
    if (kind == KIND_GAE) {
        if (has_gam) CASE(KIND_GAE, 1, 1);
        else CASE(KIND_GAE, 0, 1);
    } else if (has_gam) {
        if (has_nv) CASE(KIND_RETURNS, 1, 1);
        else CASE(KIND_RETURNS, 1, 0);
    } else {
        if (has_nv) CASE(KIND_RETURNS, 0, 1);
        else CASE(KIND_RETURNS, 0, 0);
    }
#undef CASE
}

/* n-step bootstrapped returns, one window per start step t:
       G[t] = r[t] + g[t] * (r[t+1] + g[t+1] * (... (r[e] + g[e] * B)))
   where e, the window's last step, is the first done step at or after t, the n-th step t+n-1, or the rollout's
   last step T-1, whichever comes first, and B = V'[e] unless step e is terminated (then nothing is read). Horner
   from e down to t, as the specification loops, so a g that is exactly 0 multiplies nothing: the step keeps r
   alone and reads nothing after it. Steps before e are not done (e is at or before the first done step), so no
   flag is read inside a window. next_done[c] holds, walking t backwards, the first done step at or after t in
   column c (T-1 where there is none: the rollout's end bootstraps as a truncation does). Row by row, so the
   windows of neighbouring columns read neighbouring memory. Cost: T * N * (window length), at most n. */
TYPEDRL_CLONES static void NAME(nstep)(int has_gam, REAL *restrict out, const REAL *restrict r,
                                       const REAL *restrict nv, const uint8_t *restrict te,
                                       const uint8_t *restrict tr, const REAL *restrict gam, REAL g0, Py_ssize_t n,
                                       Py_ssize_t T, Py_ssize_t N, Py_ssize_t *restrict next_done)
{
    for (Py_ssize_t c = 0; c < N; ++c)
        next_done[c] = T - 1;
    for (Py_ssize_t t = T - 1; t >= 0; --t) {
        for (Py_ssize_t c = 0; c < N; ++c) {
            const Py_ssize_t i = t * N + c;
            if (te[i] | tr[i])
                next_done[c] = t;
            const Py_ssize_t e = next_done[c] - t < n ? next_done[c] : t + n - 1;
            const Py_ssize_t last = e * N + c;
            const REAL g_last = has_gam ? gam[last] : g0;
            REAL G = (te[last] || g_last == (REAL)0) ? r[last] : r[last] + g_last * nv[last];
            for (Py_ssize_t k = e - 1; k >= t; --k) {
                const Py_ssize_t j = k * N + c;
                const REAL g = has_gam ? gam[j] : g0;
                G = g == (REAL)0 ? r[j] : r[j] + g * G;
            }
            out[i] = G;
        }
    }
}

#undef STEP
#undef INITIAL
#undef ARGS_DECL
#undef INLINE
