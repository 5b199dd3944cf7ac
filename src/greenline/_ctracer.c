/* Records which code objects run, once per code object per epoch, for per-test coverage.
 *
 * A profile hook (call events only, no line events) marks each code object with the current
 * epoch in its co_extra slot, so a function that runs a million times in a test costs one pointer
 * comparison after its first call, and no hashing. greenline advances the epoch at each test.
 * Code from files outside the given prefixes (the standard library, installed packages, pytest
 * itself) is marked ignored the first time it runs and never reported again under that filter.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <frameobject.h>

#if PY_VERSION_HEX >= 0x030C0000
#define GL_GET_EXTRA PyUnstable_Code_GetExtra
#define GL_SET_EXTRA PyUnstable_Code_SetExtra
#define GL_REQUEST_INDEX PyUnstable_Eval_RequestCodeExtraIndex
#else
#define GL_GET_EXTRA _PyCode_GetExtra
#define GL_SET_EXTRA _PyCode_SetExtra
#define GL_REQUEST_INDEX _PyEval_RequestCodeExtraIndex
#endif

/* Marks in a code object's extra slot: the (even) epoch it was last reported in, or the (odd)
 * ignore mark of the filter that rejected it; a new filter gets a new ignore mark. */
static Py_ssize_t extra_index = -1;
static uintptr_t epoch = 2;
static uintptr_t ignored = 1;
static PyObject *seen = NULL;     /* code objects first run in the current epoch */
static PyObject *prefixes = NULL;  /* tuple of str: only files under these are reported */
static PyObject *fragments = NULL; /* tuple of str: files whose names contain these are not */

static int
has_fragment(PyObject *filename)
{
    Py_ssize_t n = fragments == NULL ? 0 : PyTuple_GET_SIZE(fragments);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t at = PyUnicode_Find(filename, PyTuple_GET_ITEM(fragments, i), 0,
                                       PY_SSIZE_T_MAX, 1);
        if (at < -1) {
            PyErr_Clear();
        }
        if (at >= 0) {
            return 1;
        }
    }
    return 0;
}

static int
is_wanted(PyCodeObject *code)
{
    PyObject *filename = code->co_filename;
    if (prefixes == NULL || filename == NULL || !PyUnicode_Check(filename)) {
        return 0;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(prefixes);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t match = PyUnicode_Tailmatch(filename, PyTuple_GET_ITEM(prefixes, i), 0,
                                               PY_SSIZE_T_MAX, -1);
        if (match < 0) {
            PyErr_Clear();
        }
        if (match == 1) {
            return !has_fragment(filename);
        }
    }
    return 0;
}

static int
on_event(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    if (what != PyTrace_CALL) {
        return 0;
    }
    PyCodeObject *code = PyFrame_GetCode(frame);
    void *mark = NULL;
    int rc = 0;
    if (GL_GET_EXTRA((PyObject *)code, extra_index, &mark) == 0 && (uintptr_t)mark != epoch &&
        (uintptr_t)mark != ignored) {
        uintptr_t next = is_wanted(code) ? epoch : ignored;
        if (GL_SET_EXTRA((PyObject *)code, extra_index, (void *)next) < 0) {
            rc = -1;
        }
        else if (next != ignored) {
            rc = PyList_Append(seen, (PyObject *)code);
        }
    }
    Py_DECREF(code);
    return rc;
}

static int
is_str_tuple(PyObject *arg)
{
    if (!PyTuple_Check(arg)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(arg); i++) {
        if (!PyUnicode_Check(PyTuple_GET_ITEM(arg, i))) {
            return 0;
        }
    }
    return 1;
}

static PyObject *
set_filter(PyObject *self, PyObject *args)
{
    PyObject *include, *exclude;
    if (!PyArg_ParseTuple(args, "OO:set_filter", &include, &exclude)) {
        return NULL;
    }
    if (!is_str_tuple(include) || !is_str_tuple(exclude)) {
        PyErr_SetString(PyExc_TypeError, "set_filter() takes two tuples of str");
        return NULL;
    }
    Py_INCREF(include);
    Py_XSETREF(prefixes, include);
    Py_INCREF(exclude);
    Py_XSETREF(fragments, exclude);
    ignored += 2;
    Py_RETURN_NONE;
}

static PyObject *
start(PyObject *self, PyObject *unused)
{
    PyEval_SetProfile(on_event, NULL);
    Py_RETURN_NONE;
}

static PyObject *
stop(PyObject *self, PyObject *unused)
{
    PyEval_SetProfile(NULL, NULL);
    Py_RETURN_NONE;
}

static PyObject *
collect(PyObject *self, PyObject *unused)
{
    PyObject *fresh = PyList_New(0);
    if (fresh == NULL) {
        return NULL;
    }
    PyObject *out = seen;
    seen = fresh;
    epoch += 2;
    return out;
}

static PyMethodDef methods[] = {
    {"set_filter", set_filter, METH_VARARGS,
     "set_filter(include_prefixes, exclude_fragments): report only code from files whose names "
     "start with an included prefix and contain no excluded fragment. Set it once, before start."},
    {"start", start, METH_NOARGS, "Start recording code objects in the calling thread."},
    {"stop", stop, METH_NOARGS, "Stop recording in the calling thread."},
    {"collect", collect, METH_NOARGS,
     "Return the code objects first run since the last collect, and start a new epoch."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "greenline._ctracer",
    "Per-test code-object recorder (a C profile hook).", -1, methods,
};

PyMODINIT_FUNC
PyInit__ctracer(void)
{
    extra_index = GL_REQUEST_INDEX(NULL);
    if (extra_index < 0) {
        PyErr_SetString(PyExc_RuntimeError, "no code-object extra slot left");
        return NULL;
    }
    seen = PyList_New(0);
    if (seen == NULL) {
        return NULL;
    }
    return PyModule_Create(&module);
}
