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

/* Eight lanes of REAL, and the integer lanes of the same width that hold comparison masks (-1 or 0). */
typedef REAL NAME(vec) __attribute__((vector_size(8 * sizeof(REAL))));
typedef INT NAME(mask) __attribute__((vector_size(8 * sizeof(REAL))));

INLINE NAME(vec) NAME(load)(const REAL *p)
{
    NAME(vec) x;
    memcpy(&x, p, sizeof x);
    return x;
}

INLINE void NAME(store)(REAL *p, NAME(vec) x) { memcpy(p, &x, sizeof x); }

INLINE NAME(mask) NAME(flags)(const uint8_t *p)
{
    bytes8 b;
    memcpy(&b, p, sizeof b);
    return __builtin_convertvector(b, NAME(mask)) != 0;
}

/* x where the mask is set, +0 elsewhere: a bitwise select, so an inf or NaN that is masked out never leaks. */
INLINE NAME(vec) NAME(keep)(NAME(mask) m, NAME(vec) x) { return (NAME(vec))(m & (NAME(mask))x); }

/* d and c of the 8 elements starting at i: step() above, eight lanes at once. */
INLINE void NAME(vstep)(const int kind, const int has_gam, const int has_nv, Py_ssize_t i, const REAL *restrict r,
                        const REAL *restrict v, const REAL *restrict nv, const uint8_t *restrict te,
                        const uint8_t *restrict tr, const REAL *restrict gam, REAL g0, REAL lam, NAME(vec) *d,
                        NAME(vec) *c)
{
    const NAME(vec) zero = {0};
    const NAME(vec) g = has_gam ? NAME(load)(gam + i) : zero + g0;
    const NAME(mask) term = NAME(flags)(te + i);
    const NAME(mask) done = term | NAME(flags)(tr + i);
    if (kind == KIND_GAE) {
        *d = NAME(load)(r + i) + NAME(keep)(~term, g * NAME(load)(nv + i)) - NAME(load)(v + i);
        *c = NAME(keep)(~done, g * lam);
    } else {
        *d = has_nv ? NAME(load)(r + i) + NAME(keep)(done & ~term, g * NAME(load)(nv + i)) : NAME(load)(r + i);
        *c = NAME(keep)(~done, g);
    }
}

/* 8 <= N < 64: walk time over blocks of 8 columns held in vector registers (nothing read aliases the output),
   with four steps folded into one as in columns() below, so the dependency chain is a quarter as long.
   Returns the first column it did not cover. */
INLINE Py_ssize_t NAME(blocks)(ARGS_DECL)
{
#define VSTEP(i, d, c) NAME(vstep)(kind, has_gam, has_nv, (i), r, v, nv, te, tr, gam, g0, lam, (d), (c))
    Py_ssize_t n = 0;
    for (; n + 8 <= N; n += 8) {
        NAME(vec) acc = {0};
        if (kind == KIND_RETURNS && has_nv)
            acc = NAME(load)(nv + (T - 1) * N + n);
        Py_ssize_t t = T - 1;
        for (; t >= 3; t -= 4) {
            NAME(vec) d0, c0, d1, c1, d2, c2, d3, c3;
            VSTEP(t * N + n, &d0, &c0);
            VSTEP((t - 1) * N + n, &d1, &c1);
            VSTEP((t - 2) * N + n, &d2, &c2);
            VSTEP((t - 3) * N + n, &d3, &c3);
            const NAME(vec) D = d3 + c3 * (d2 + c2 * (d1 + c1 * d0));
            const NAME(vec) C = (c3 * c2) * (c1 * c0);
            const NAME(vec) a0 = d0 + c0 * acc;
            const NAME(vec) a1 = d1 + c1 * a0;
            NAME(store)(out + t * N + n, a0);
            NAME(store)(out + (t - 1) * N + n, a1);
            NAME(store)(out + (t - 2) * N + n, d2 + c2 * a1);
            acc = D + C * acc;
            NAME(store)(out + (t - 3) * N + n, acc);
        }
        for (; t >= 0; --t) {
            NAME(vec) d, c;
            VSTEP(t * N + n, &d, &c);
            acc = d + c * acc;
            NAME(store)(out + t * N + n, acc);
        }
    }
    return n;
#undef VSTEP
}

/* Few columns: one column at a time, four steps folded into one so the dependency chain is a quarter as long:
   a[t-3] = D + C * a[t+1], with D and C computed off the chain. */
INLINE void NAME(columns)(ARGS_DECL, Py_ssize_t first)
{
    for (Py_ssize_t n = first; n < N; ++n) {
        REAL a = INITIAL(n);
        Py_ssize_t t = T - 1;
        for (; t >= 3; t -= 4) {
            REAL d0, c0, d1, c1, d2, c2, d3, c3;
            STEP(t * N + n, &d0, &c0);
            STEP((t - 1) * N + n, &d1, &c1);
            STEP((t - 2) * N + n, &d2, &c2);
            STEP((t - 3) * N + n, &d3, &c3);
            const REAL D = d3 + c3 * (d2 + c2 * (d1 + c1 * d0));
            const REAL C = (c3 * c2) * (c1 * c0);
            const REAL a0 = d0 + c0 * a;
            const REAL a1 = d1 + c1 * a0;
            const REAL a2 = d2 + c2 * a1;
            out[t * N + n] = a0;
            out[(t - 1) * N + n] = a1;
            out[(t - 2) * N + n] = a2;
            a = D + C * a;
            out[(t - 3) * N + n] = a;
        }
        for (; t >= 0; --t) {
            REAL d, c;
            STEP(t * N + n, &d, &c);
            a = d + c * a;
            out[t * N + n] = a;
        }
    }
}

INLINE void NAME(shape)(ARGS_DECL)
{
    if (N >= 64) {
        NAME(rows)(kind, has_gam, has_nv, out, r, v, nv, te, tr, gam, g0, lam, T, N);
    } else {
        const Py_ssize_t first = NAME(blocks)(kind, has_gam, has_nv, out, r, v, nv, te, tr, gam, g0, lam, T, N);
        NAME(columns)(kind, has_gam, has_nv, out, r, v, nv, te, tr, gam, g0, lam, T, N, first);
    }
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
