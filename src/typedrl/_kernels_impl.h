/*
 * The recurrence kernels for one element type. Included by _kernels.c once per type with REAL (the C type) and
 * NAME(x) (appends the type's suffix) defined. See _kernels.c for the recurrence and for what d and c are.
 * Every helper is always_inline with its flags passed as constants, so each (kind, has_gam, has_nv) combination
 * compiles to its own branch-free loop.
 */

#define INLINE static inline __attribute__((always_inline))

/* d and c of element i. */
INLINE void NAME(step)(const int kind, const int has_gam, const int has_nv, Py_ssize_t i, const REAL *restrict r,
                       const REAL *restrict v, const REAL *restrict nv, const uint8_t *restrict te,
                       const uint8_t *restrict tr, const REAL *restrict gam, REAL g0, REAL lam, REAL *d, REAL *c)
{
    const REAL g = has_gam ? gam[i] : g0;
    const int term = te[i] != 0;
    const int done = term | (tr[i] != 0);
    if (kind == KIND_GAE) {
        *d = r[i] + (term ? (REAL)0 : g * nv[i]) - v[i];
        *c = done ? (REAL)0 : g * lam;
    } else {
        *d = (has_nv && done && !term) ? r[i] + g * nv[i] : r[i];
        *c = done ? (REAL)0 : g;
    }
}

#define ARGS_DECL                                                                                                 \
    const int kind, const int has_gam, const int has_nv, REAL *restrict out, const REAL *restrict r,              \
        const REAL *restrict v, const REAL *restrict nv, const uint8_t *restrict te, const uint8_t *restrict tr, \
        const REAL *restrict gam, REAL g0, REAL lam, Py_ssize_t T, Py_ssize_t N
#define STEP(i, d, c) NAME(step)(kind, has_gam, has_nv, (i), r, v, nv, te, tr, gam, g0, lam, (d), (c))
#define INITIAL(n) ((kind == KIND_RETURNS && has_nv) ? nv[(T - 1) * N + (n)] : (REAL)0)

/* N >= 64: one row at a time; the loop over the row vectorises and reads the row below from out. */
INLINE void NAME(rows)(ARGS_DECL)
{
    for (Py_ssize_t n = 0; n < N; ++n) {
        REAL d, c;
        STEP((T - 1) * N + n, &d, &c);
        out[(T - 1) * N + n] = d + c * INITIAL(n);
    }
    for (Py_ssize_t t = T - 2; t >= 0; --t) {
        REAL *restrict row = out + t * N;
        const REAL *restrict below = out + (t + 1) * N;
        for (Py_ssize_t n = 0; n < N; ++n) {
            REAL d, c;
            STEP(t * N + n, &d, &c);
            row[n] = d + c * below[n];
        }
    }
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
   bounds a long narrow scan is a quarter as long. */
#define CHUNK 64
#define FOLD4(a, d0, c0, d1, c1, d2, c2, d3, c3, o, stride, store)                                              \
    do {                                                                                                          \
        const __typeof__(a) a0_ = (d0) + (c0) * (a), a1_ = (d1) + (c1) * a0_;                                     \
        const __typeof__(a) D_ = (d3) + (c3) * ((d2) + (c2) * ((d1) + (c1) * (d0))), C_ = ((c3) * (c2)) * ((c1) * (c0)); \
        store((o), a0_);                                                                                          \
        store((o) - (stride), a1_);                                                                               \
        store((o) - 2 * (stride), (d2) + (c2) * a1_);                                                             \
        (a) = D_ + C_ * (a);                                                                                      \
        store((o) - 3 * (stride), (a));                                                                           \
    } while (0)
#define SCALAR_STORE(p, x) (*(p) = (x))

INLINE void NAME(chunked)(ARGS_DECL)
{
    REAL dbuf[CHUNK * 64], cbuf[CHUNK * 64];
    NAME(vec) acc[8];
    REAL tail[8];
    const Py_ssize_t lanes = N / 8;
    for (Py_ssize_t b = 0; b < lanes; ++b) {
        const NAME(vec) zero = {0};
        acc[b] = (kind == KIND_RETURNS && has_nv) ? NAME(load)(nv + (T - 1) * N + 8 * b) : zero;
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
                      NAME(store));
            }
            for (; t >= lo; --t) {
                const Py_ssize_t k = (t - lo) * N + 8 * b;
                a = NAME(load)(dbuf + k) + NAME(load)(cbuf + k) * a;
                NAME(store)(out + t * N + 8 * b, a);
            }
            acc[b] = a;
        }
        for (Py_ssize_t n = 8 * lanes; n < N; ++n) {
            REAL a = tail[n - 8 * lanes];
            Py_ssize_t t = hi - 1;
            for (; t - 3 >= lo; t -= 4) {
                const Py_ssize_t k = (t - lo) * N + n;
                FOLD4(a, dbuf[k], cbuf[k], dbuf[k - N], cbuf[k - N], dbuf[k - 2 * N], cbuf[k - 2 * N],
                      dbuf[k - 3 * N], cbuf[k - 3 * N], out + t * N + n, N, SCALAR_STORE);
            }
            for (; t >= lo; --t) {
                const Py_ssize_t k = (t - lo) * N + n;
                a = dbuf[k] + cbuf[k] * a;
                out[t * N + n] = a;
            }
            tail[n - 8 * lanes] = a;
        }
    }
}
#undef SCALAR_STORE
#undef FOLD4
#undef CHUNK

INLINE void NAME(shape)(ARGS_DECL)
{
    if (N >= 64)
        NAME(rows)(kind, has_gam, has_nv, out, r, v, nv, te, tr, gam, g0, lam, T, N);
    else
        NAME(chunked)(kind, has_gam, has_nv, out, r, v, nv, te, tr, gam, g0, lam, T, N);
}

/* The entry point for this type: turn the runtime flags into constants. */
TYPEDRL_CLONES static void NAME(run)(int kind, int has_gam, int has_nv, REAL *restrict out, const REAL *restrict r,
                                     const REAL *restrict v, const REAL *restrict nv, const uint8_t *restrict te,
                                     const uint8_t *restrict tr, const REAL *restrict gam, REAL g0, REAL lam,
                                     Py_ssize_t T, Py_ssize_t N)
{
#define CASE(K, G, V) NAME(shape)((K), (G), (V), out, r, v, nv, te, tr, gam, g0, lam, T, N)
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

#undef STEP
#undef INITIAL
#undef ARGS_DECL
#undef INLINE
