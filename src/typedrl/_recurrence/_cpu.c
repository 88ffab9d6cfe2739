/*
 * typedrl._recurrence._cpu: the backward linear recurrences behind GAE and discounted returns, on CPU memory.
 *
 * Both are   a[t] = d[t] + c[t] * a[t+1]   run from t = T-1 down to 0 over a time-major [T, N] array:
 *
 *   GAE:      d = r + g * (term ? 0 : V') - V          c = done ? 0 : g * lam          a[T] = 0
 *   returns:  d = r + (trunc && !term ? g * V' : 0)    c = done ? 0 : g                a[T] = V'[T-1] (0 without V')
 *
 * where g is gamma (one scalar, or one per element) and done = term | trunc. A coefficient that is exactly zero
 * multiplies nothing: where g == 0, lam == 0 or a flag cuts, the term is not computed at all (IEEE would make
 * 0 * inf and 0 * NaN a NaN), so a non-finite value there cannot reach any output. Before calling, the Python
 * side validates dtype, device and sizes and resolves lazy negation (typedrl/returns.py), and makes every buffer
 * contiguous (typedrl/_recurrence/__init__.py); these functions trust the pointers they get.
 *
 * n_step() computes n-step bootstrapped returns, which are not one recurrence: each start step t has its own window
 * of up to n steps, evaluated from the window's end (see NAME(nstep) in _cpu_impl.h).
 *
 * The loops themselves are in _cpu_impl.h, included once for float and once for double. Two loop shapes,
 * chosen by N: rows (N >= 64: the loop over a row vectorises and shares the chain latency across the row), and
 * chunks (N < 64: d and c of 64 time steps in one flat vectorised pass, then a scan that folds four steps into
 * one, in 8-lane vectors where N allows and one column at a time for the rest).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__) && !defined(__clang__)
#define TYPEDRL_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define TYPEDRL_CLONES
#endif

/* The kind codes, also exported as the module's KIND_GAE and KIND_RETURNS: typedrl._recurrence.Kind must hold
   the same numbers, and tests/test_recurrence.py checks that it does. */
#define KIND_GAE 0
#define KIND_RETURNS 1

#define REAL float
#define NAME(x) x##_f32
#define TRUE_MIN FLT_TRUE_MIN
#include "_cpu_impl.h"
#undef REAL
#undef NAME
#undef TRUE_MIN

#define REAL double
#define NAME(x) x##_f64
#define TRUE_MIN DBL_TRUE_MIN
#include "_cpu_impl.h"
#undef REAL
#undef NAME
#undef TRUE_MIN

/* None is an absent buffer (NULL); an address must be nonzero (a tensor without storage reports 0). */
static int as_pointer(PyObject *obj, void **ptr)
{
    if (obj == Py_None) {
        *ptr = NULL;
        return 0;
    }
    *ptr = PyLong_AsVoidPtr(obj);
    if (*ptr == NULL && !PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError, "recurrence: a buffer address is 0");
    return *ptr == NULL ? -1 : 0;
}

/* gamma or lam in the kernel's type: a nonzero value that would round to zero keeps the smallest subnormal, so
   the kernel agrees with exact arithmetic on which coefficients are zero. */
static float nonzero_f32(double x)
{
    const float y = (float)x;
    return (x != 0.0 && y == 0.0f) ? FLT_TRUE_MIN : y;
}

PyDoc_STRVAR(recurrence_doc,
             "recurrence(kind, double, out, rewards, values, next_values, terminated, truncated, gammas, gamma, lam, "
             "T, N)\n--\n\n"
             "Run the backward recurrence over contiguous CPU buffers given as integer addresses (None for absent "
             "ones).\nkind is KIND_GAE or KIND_RETURNS; double selects float64 over float32. The caller "
             "guarantees the buffers hold T*N elements of the right type.");

static PyObject *recurrence(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 13) {
        PyErr_Format(PyExc_TypeError, "recurrence expects 13 arguments, got %zd", nargs);
        return NULL;
    }
    const long kind = PyLong_AsLong(args[0]);
    const int is_double = PyObject_IsTrue(args[1]);
    const double g0 = PyFloat_AsDouble(args[9]);
    const double lam = PyFloat_AsDouble(args[10]);
    const Py_ssize_t T = PyLong_AsSsize_t(args[11]);
    const Py_ssize_t N = PyLong_AsSsize_t(args[12]);
    if (PyErr_Occurred() || is_double < 0)
        return NULL;
    if ((kind != KIND_GAE && kind != KIND_RETURNS) || T < 0 || N < 0) {
        PyErr_SetString(PyExc_ValueError, "recurrence: inconsistent arguments");
        return NULL;
    }
    if (T == 0 || N == 0) /* nothing to do; empty tensors may have NULL data pointers */
        Py_RETURN_NONE;
    void *out, *r, *v, *nv, *te, *tr, *gam;
    if (as_pointer(args[2], &out) || as_pointer(args[3], &r) || as_pointer(args[4], &v) ||
        as_pointer(args[5], &nv) || as_pointer(args[6], &te) || as_pointer(args[7], &tr) ||
        as_pointer(args[8], &gam))
        return NULL;
    if (out == NULL || r == NULL || te == NULL || tr == NULL || (kind == KIND_GAE && (v == NULL || nv == NULL))) {
        PyErr_SetString(PyExc_ValueError, "recurrence: a required buffer is None");
        return NULL;
    }
    const int has_gam = gam != NULL, has_nv = nv != NULL;
    Py_BEGIN_ALLOW_THREADS
    if (is_double)
        run_f64((int)kind, has_gam, has_nv, (double *)out, (const double *)r, (const double *)v,
                (const double *)nv, (const uint8_t *)te, (const uint8_t *)tr, (const double *)gam, g0, lam, T, N);
    else
        run_f32((int)kind, has_gam, has_nv, (float *)out, (const float *)r, (const float *)v, (const float *)nv,
                (const uint8_t *)te, (const uint8_t *)tr, (const float *)gam, nonzero_f32(g0), nonzero_f32(lam), T, N);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

PyDoc_STRVAR(n_step_doc,
             "n_step(double, out, rewards, next_values, terminated, truncated, gammas, gamma, n, T, N)\n--\n\n"
             "n-step bootstrapped returns over contiguous CPU buffers given as integer addresses (gammas None for a "
             "scalar gamma).\ndouble selects float64 over float32; n >= 1. The caller guarantees the buffers hold "
             "T*N elements of the right type.");

static PyObject *n_step(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 11) {
        PyErr_Format(PyExc_TypeError, "n_step expects 11 arguments, got %zd", nargs);
        return NULL;
    }
    const int is_double = PyObject_IsTrue(args[0]);
    const double g0 = PyFloat_AsDouble(args[7]);
    const Py_ssize_t n = PyLong_AsSsize_t(args[8]);
    const Py_ssize_t T = PyLong_AsSsize_t(args[9]);
    const Py_ssize_t N = PyLong_AsSsize_t(args[10]);
    if (PyErr_Occurred() || is_double < 0)
        return NULL;
    if (n < 1 || T < 0 || N < 0) {
        PyErr_SetString(PyExc_ValueError, "n_step: inconsistent arguments");
        return NULL;
    }
    if (T == 0 || N == 0) /* nothing to do; empty tensors may have NULL data pointers */
        Py_RETURN_NONE;
    void *out, *r, *nv, *te, *tr, *gam;
    if (as_pointer(args[1], &out) || as_pointer(args[2], &r) || as_pointer(args[3], &nv) ||
        as_pointer(args[4], &te) || as_pointer(args[5], &tr) || as_pointer(args[6], &gam))
        return NULL;
    if (out == NULL || r == NULL || nv == NULL || te == NULL || tr == NULL) {
        PyErr_SetString(PyExc_ValueError, "n_step: a required buffer is None");
        return NULL;
    }
    Py_ssize_t *next_done = PyMem_Malloc((size_t)N * sizeof(Py_ssize_t));
    if (next_done == NULL)
        return PyErr_NoMemory();
    const int has_gam = gam != NULL;
    Py_BEGIN_ALLOW_THREADS
    if (is_double)
        nstep_f64(has_gam, (double *)out, (const double *)r, (const double *)nv, (const uint8_t *)te,
                  (const uint8_t *)tr, (const double *)gam, g0, n, T, N, next_done);
    else
        nstep_f32(has_gam, (float *)out, (const float *)r, (const float *)nv, (const uint8_t *)te,
                  (const uint8_t *)tr, (const float *)gam, nonzero_f32(g0), n, T, N, next_done);
    Py_END_ALLOW_THREADS
    PyMem_Free(next_done);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"recurrence", (PyCFunction)(void (*)(void))recurrence, METH_FASTCALL, recurrence_doc},
    {"n_step", (PyCFunction)(void (*)(void))n_step, METH_FASTCALL, n_step_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "typedrl._recurrence._cpu",
    "Compiled backward recurrences for GAE and discounted returns, and n-step returns.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__cpu(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "KIND_GAE", KIND_GAE) < 0 ||
        PyModule_AddIntConstant(m, "KIND_RETURNS", KIND_RETURNS) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
