/* Records which code objects run, once per code object per epoch, for per-test coverage.
 *
 * A profile hook (call events only, no line events) marks each code object with the current
 * epoch in its co_extra slot, so a function that runs a million times in a test costs one pointer
 * comparison after its first call, and no hashing. greenline advances the epoch at each test.
 * Code from files outside the given prefixes (the standard library, installed packages, pytest
 * itself) is marked ignored the first time it runs and never reported again under that filter.
 *
 * Asked for lines (branch granularity), it is a trace hook instead: the same call events, plus
 * each line event of reported code noted in a bitmap of the code for this epoch, found through a
 * second extra slot (no hashing); a line of ignored code costs one mark comparison.
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
static Py_ssize_t place_index = -1; /* extra slot: a reported code's position in ``seen`` */
static int with_lines = 0;
/* Parallel to ``seen``: per code, a bytearray whose byte i is set if line co_firstlineno + i
 * ran (None when not tracing lines); ``taken`` is the one the last collect() returned with. */
static PyObject *bitmaps = NULL;
static PyObject *taken = NULL;

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

/* Marks a code object for this epoch (reporting it) unless it was marked already; 1 if it is
 * reported (now or before), 0 if ignored, -1 on error. */
static int
mark_code(PyCodeObject *code)
{
    void *mark = NULL;
    if (GL_GET_EXTRA((PyObject *)code, extra_index, &mark) < 0) {
        return -1;
    }
    if ((uintptr_t)mark == epoch) {
        return 1;
    }
    if ((uintptr_t)mark == ignored) {
        return 0;
    }
    uintptr_t next = is_wanted(code) ? epoch : ignored;
    if (GL_SET_EXTRA((PyObject *)code, extra_index, (void *)next) < 0) {
        return -1;
    }
    if (next == ignored) {
        return 0;
    }
    PyObject *bits = with_lines ? PyByteArray_FromStringAndSize(NULL, 0) : Py_NewRef(Py_None);
    if (bits == NULL) {
        return -1;
    }
    void *place = (void *)(uintptr_t)PyList_GET_SIZE(seen);
    int rc = GL_SET_EXTRA((PyObject *)code, place_index, place);
    if (rc == 0) {
        rc = PyList_Append(seen, (PyObject *)code);
    }
    if (rc == 0) {
        rc = PyList_Append(bitmaps, bits);
    }
    Py_DECREF(bits);
    return rc < 0 ? -1 : 1;
}

static int
on_event(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    if (what != PyTrace_CALL) {
        return 0;
    }
    PyCodeObject *code = PyFrame_GetCode(frame);
    int rc = mark_code(code) < 0 ? -1 : 0;
    Py_DECREF(code);
    return rc;
}

/* Sets the line's byte in the bitmap of a code reported in this epoch, growing it as needed. */
static int
note_line(PyCodeObject *code, int line)
{
    void *place = NULL;
    if (GL_GET_EXTRA((PyObject *)code, place_index, &place) < 0) {
        return -1;
    }
    Py_ssize_t index = (Py_ssize_t)(uintptr_t)place;
    Py_ssize_t at = (Py_ssize_t)line - code->co_firstlineno;
    if (index >= PyList_GET_SIZE(bitmaps) || at < 0) {
        return 0;
    }
    PyObject *bits = PyList_GET_ITEM(bitmaps, index);
    if (!PyByteArray_Check(bits)) {
        return 0;
    }
    Py_ssize_t size = PyByteArray_GET_SIZE(bits);
    if (at >= size) {
        if (PyByteArray_Resize(bits, at + 32) < 0) {
            return -1;
        }
        memset(PyByteArray_AS_STRING(bits) + size, 0, (size_t)(at + 32 - size));
    }
    PyByteArray_AS_STRING(bits)[at] = 1;
    return 0;
}

static int
on_trace(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    if (what != PyTrace_CALL && what != PyTrace_LINE) {
        return 0;
    }
    PyCodeObject *code = PyFrame_GetCode(frame);
    int rc = mark_code(code);
    if (rc > 0 && what == PyTrace_LINE) {
        rc = note_line(code, PyFrame_GetLineNumber(frame));
    }
    Py_DECREF(code);
    return rc < 0 ? -1 : 0;
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
start(PyObject *self, PyObject *args)
{
    if (!PyArg_ParseTuple(args, "|p:start", &with_lines)) {
        return NULL;
    }
    if (with_lines) {
        PyEval_SetTrace(on_trace, NULL);
    }
    else {
        PyEval_SetProfile(on_event, NULL);
    }
    Py_RETURN_NONE;
}

static PyObject *
stop(PyObject *self, PyObject *unused)
{
    /* only the hook start() set: another tool's (coverage.py's trace hook) stays */
    if (with_lines) {
        PyEval_SetTrace(NULL, NULL);
    }
    else {
        PyEval_SetProfile(NULL, NULL);
    }
    Py_RETURN_NONE;
}

static PyObject *
collect(PyObject *self, PyObject *unused)
{
    PyObject *fresh = PyList_New(0);
    if (fresh == NULL) {
        return NULL;
    }
    PyObject *fresh_bitmaps = PyList_New(0);
    if (fresh_bitmaps == NULL) {
        Py_DECREF(fresh);
        return NULL;
    }
    PyObject *out = seen;
    seen = fresh;
    Py_XSETREF(taken, bitmaps);
    bitmaps = fresh_bitmaps;
    epoch += 2;
    return out;
}

static PyObject *
collect_lines(PyObject *self, PyObject *unused)
{
    return Py_NewRef(taken);
}

/* The audit hook: one per process (audit hooks cannot be removed), calling the handler only for
 * the events it listens to. Every builtins.id(), attribute read of a frame or code object and
 * os.putenv raises an audit event: a Python hook is called for each, a few dozen times per test,
 * where this compares names in C. */
static PyObject *audit_handler = NULL; /* callable(event, args), or NULL */
static PyObject *audit_events = NULL;  /* tuple of bytes: the events passed on */
static int audit_installed = 0;

static int
on_audit(const char *event, PyObject *args, void *unused)
{
    PyObject *handler = audit_handler;
    PyObject *events = audit_events;
    if (handler == NULL || events == NULL) {
        return 0;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(events), i;
    for (i = 0; i < n; i++) {
        if (strcmp(event, PyBytes_AS_STRING(PyTuple_GET_ITEM(events, i))) == 0) {
            break;
        }
    }
    if (i == n) {
        return 0;
    }
    Py_INCREF(handler);
    PyObject *result = PyObject_CallFunction(handler, "sO", event, args ? args : Py_None);
    Py_DECREF(handler);
    if (result == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_Exception)) {
            return -1; /* KeyboardInterrupt and the like go on */
        }
        /* a fault in greenline's handler never fails the audited call (the test's open()) */
        PyErr_WriteUnraisable(handler);
        return 0;
    }
    Py_DECREF(result);
    return 0;
}

static PyObject *
set_audit_handler(PyObject *self, PyObject *args)
{
    PyObject *handler, *events;
    if (!PyArg_ParseTuple(args, "OO!:set_audit_handler", &handler, &PyTuple_Type, &events)) {
        return NULL;
    }
    if (handler != Py_None && !PyCallable_Check(handler)) {
        PyErr_SetString(PyExc_TypeError, "set_audit_handler() takes a callable or None");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(events); i++) {
        if (!PyBytes_Check(PyTuple_GET_ITEM(events, i))) {
            PyErr_SetString(PyExc_TypeError, "set_audit_handler() takes a tuple of bytes");
            return NULL;
        }
    }
    if (!audit_installed) {
        if (PySys_AddAuditHook(on_audit, NULL) < 0) {
            return NULL;
        }
        audit_installed = 1;
    }
    Py_INCREF(events);
    Py_XSETREF(audit_events, events);
    if (handler == Py_None) {
        Py_CLEAR(audit_handler);
    }
    else {
        Py_INCREF(handler);
        Py_XSETREF(audit_handler, handler);
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"set_audit_handler", set_audit_handler, METH_VARARGS,
     "set_audit_handler(handler, events): call handler(event, args) for the audit events named "
     "(a tuple of bytes) and no other; None stops the calls. The hook is installed once."},
    {"set_filter", set_filter, METH_VARARGS,
     "set_filter(include_prefixes, exclude_fragments): report only code from files whose names "
     "start with an included prefix and contain no excluded fragment. Set it once, before start."},
    {"start", start, METH_VARARGS,
     "start(lines=False): start recording code objects (and, with lines, the lines they run) "
     "in the calling thread."},
    {"stop", stop, METH_NOARGS, "Stop recording in the calling thread."},
    {"collect", collect, METH_NOARGS,
     "Return the code objects first run since the last collect, and start a new epoch."},
    {"collect_lines", collect_lines, METH_NOARGS,
     "The lines run by the code objects the last collect() returned: a list in the same order, "
     "of a bytearray per code (byte i set: line co_firstlineno + i ran), or None for code run "
     "while lines were not traced."},
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
    place_index = GL_REQUEST_INDEX(NULL);
    if (extra_index < 0 || place_index < 0) {
        PyErr_SetString(PyExc_RuntimeError, "no code-object extra slot left");
        return NULL;
    }
    seen = PyList_New(0);
    bitmaps = PyList_New(0);
    taken = PyList_New(0);
    if (seen == NULL || bitmaps == NULL || taken == NULL) {
        return NULL;
    }
    return PyModule_Create(&module);
}
