// Per-worker request state, start_response(status, headers, exc_info=None) and write(data).
//
// start_response validates and copies the head into plain latin-1 bytes owned by the YRequest, so
// Swift commits it to the exchange without touching Python (and without the GIL).
// The callables are reused from request to request; one that an app still holds when the request
// ends is detached (later calls raise) and a fresh one is made for the next request.
#include "internal.h"

#include <string.h>

YRequest *YPy_RequestNew(void) {
    YRequest *request = PyMem_RawCalloc(1, sizeof *request);
    if (!request) {
        PyErr_NoMemory();
        return NULL;
    }
    request->errors = ypy_errors_new();
    if (!request->errors) {
        PyMem_RawFree(request);
        return NULL;
    }
    return request;
}

static PyObject *bound_new(PyTypeObject *type, vectorcallfunc call, YRequest *request) {
    YBoundCallable *object = PyObject_New(YBoundCallable, type);
    if (!object) return NULL;
    object->vectorcall = call;
    object->req = request;
    return (PyObject *)object;
}

static PyObject *start_response_call(PyObject *, PyObject *const *, size_t, PyObject *);
static PyObject *write_call(PyObject *, PyObject *const *, size_t, PyObject *);

int YPy_RequestBegin(YRequest *request, void *ctx, long long contentLength) {
    if (!request->start_response &&
        !(request->start_response = bound_new(&YStartResponse_Type, start_response_call, request))) {
        return -1;
    }
    if (!request->writer && !(request->writer = bound_new(&YWriter_Type, write_call, request))) {
        return -1;
    }
    if (!request->input && !(request->input = ypy_input_new(request))) return -1;
    ypy_input_reset(request->input, contentLength);
    request->ctx = ctx;
    request->content_length = contentLength;
    request->started = 0;
    request->committed = 0;
    request->head_length = 0;
    request->status_length = 0;
    request->field_count = 0;
    return 0;
}

/// Lets go of an object the app still holds (already detached); Begin makes a fresh one.
static void release_if_shared(PyObject **slot) {
    if (*slot && Py_REFCNT(*slot) > 1) Py_CLEAR(*slot);
}

void YPy_RequestEnd(YRequest *request) {
    request->ctx = NULL;
    if (request->start_response && Py_REFCNT(request->start_response) > 1) {
        ((YBoundCallable *)request->start_response)->req = NULL;
    }
    if (request->writer && Py_REFCNT(request->writer) > 1) {
        ((YBoundCallable *)request->writer)->req = NULL;
    }
    if (request->input && Py_REFCNT(request->input) > 1) {
        ypy_input_reset(request->input, -2);  // -2: detach
    }
    release_if_shared(&request->start_response);
    release_if_shared(&request->writer);
    release_if_shared(&request->input);
    ypy_errors_flush(request->errors);
}

PyObject *YPy_RequestStartResponse(YRequest *request) { return request->start_response; }
PyObject *YPy_RequestInput(YRequest *request) { return request->input; }

int YPy_RequestStarted(const YRequest *request) { return request->started; }
void YPy_RequestMarkCommitted(YRequest *request) { request->committed = 1; }

void YPy_RequestStatus(const YRequest *request, const char **data, long *length) {
    *data = request->head;
    *length = (long)request->status_length;
}

long YPy_RequestHeaderCount(const YRequest *request) { return request->field_count; }

void YPy_RequestHeader(const YRequest *request, long index, const char **name, long *nameLength,
                       const char **value, long *valueLength) {
    const YHeaderField *field = &request->fields[index];
    *name = request->head + field->name_offset;
    *nameLength = field->name_length;
    *value = request->head + field->value_offset;
    *valueLength = field->value_length;
}

long long YPy_RequestContentLength(const YRequest *request) {
    for (long i = 0; i < request->field_count; i++) {
        const YHeaderField *field = &request->fields[i];
        if (field->name_length != 14 ||
            strncasecmp(request->head + field->name_offset, "content-length", 14) != 0) {
            continue;
        }
        const char *digits = request->head + field->value_offset;
        if (field->value_length == 0 || field->value_length > 18) return -1;
        long long value = 0;
        for (uint32_t k = 0; k < field->value_length; k++) {
            if (digits[k] < '0' || digits[k] > '9') return -1;
            value = value * 10 + (digits[k] - '0');
        }
        return value;
    }
    return -1;
}

// MARK: - Validation and copying of the head

static int is_token_char(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/// The latin-1 bytes of a str (CPython stores strs whose characters are all <= U+00FF as exactly
/// those bytes), or NULL with ValueError/TypeError set.
static const char *latin1_view(PyObject *text, Py_ssize_t *length, const char *what) {
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "%s must be str, not %.100s", what, Py_TYPE(text)->tp_name);
        return NULL;
    }
    if (PyUnicode_READY(text) < 0) return NULL;
    if (PyUnicode_KIND(text) != PyUnicode_1BYTE_KIND) {
        PyErr_Format(PyExc_ValueError, "%s must be latin-1 encodable: %R", what, text);
        return NULL;
    }
    *length = PyUnicode_GET_LENGTH(text);
    return (const char *)PyUnicode_1BYTE_DATA(text);
}

static int append_head(YRequest *request, const char *bytes, size_t length) {
    if (request->head_length + length > request->head_capacity) {
        size_t capacity = request->head_capacity ? request->head_capacity : 512;
        while (capacity < request->head_length + length) capacity *= 2;
        char *grown = PyMem_RawRealloc(request->head, capacity);
        if (!grown) {
            PyErr_NoMemory();
            return -1;
        }
        request->head = grown;
        request->head_capacity = capacity;
    }
    memcpy(request->head + request->head_length, bytes, length);
    request->head_length += length;
    return 0;
}

static int store_status(YRequest *request, PyObject *status) {
    Py_ssize_t length;
    const char *bytes = latin1_view(status, &length, "status");
    if (!bytes) return -1;
    if (length < 4 || bytes[3] != ' ' || bytes[0] < '1' || bytes[0] > '9' ||
        bytes[1] < '0' || bytes[1] > '9' || bytes[2] < '0' || bytes[2] > '9') {
        PyErr_Format(PyExc_ValueError, "status must look like '200 OK', got %R", status);
        return -1;
    }
    for (Py_ssize_t i = 4; i < length; i++) {
        if (bytes[i] == '\r' || bytes[i] == '\n' || bytes[i] == '\0') {
            PyErr_Format(PyExc_ValueError, "status contains CR, LF or NUL: %R", status);
            return -1;
        }
    }
    request->head_length = 0;
    if (append_head(request, bytes, (size_t)length) < 0) return -1;
    request->status_length = (size_t)length;
    return 0;
}

static int store_header(YRequest *request, PyObject *item) {
    if (!(PyTuple_Check(item) || PyList_Check(item)) || PySequence_Fast_GET_SIZE(item) != 2) {
        PyErr_Format(PyExc_TypeError, "each header must be a (name, value) tuple, got %R", item);
        return -1;
    }
    PyObject *name_object = PySequence_Fast_GET_ITEM(item, 0);
    PyObject *value_object = PySequence_Fast_GET_ITEM(item, 1);
    Py_ssize_t name_length, value_length;
    const char *name = latin1_view(name_object, &name_length, "header name");
    if (!name) return -1;
    const char *value = latin1_view(value_object, &value_length, "header value");
    if (!value) return -1;
    if (name_length == 0) {
        PyErr_SetString(PyExc_ValueError, "empty header name");
        return -1;
    }
    for (Py_ssize_t i = 0; i < name_length; i++) {
        if (!is_token_char((unsigned char)name[i])) {
            PyErr_Format(PyExc_ValueError, "invalid character in header name %R", name_object);
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < value_length; i++) {
        if (value[i] == '\r' || value[i] == '\n' || value[i] == '\0') {
            PyErr_Format(PyExc_ValueError, "header %R: value contains CR, LF or NUL", name_object);
            return -1;
        }
    }
    if (request->field_count == request->field_capacity) {
        long capacity = request->field_capacity ? request->field_capacity * 2 : 16;
        YHeaderField *grown = PyMem_RawRealloc(request->fields, (size_t)capacity * sizeof *grown);
        if (!grown) {
            PyErr_NoMemory();
            return -1;
        }
        request->fields = grown;
        request->field_capacity = capacity;
    }
    YHeaderField *field = &request->fields[request->field_count];
    field->name_offset = (uint32_t)request->head_length;
    field->name_length = (uint32_t)name_length;
    if (append_head(request, name, (size_t)name_length) < 0) return -1;
    field->value_offset = (uint32_t)request->head_length;
    field->value_length = (uint32_t)value_length;
    if (append_head(request, value, (size_t)value_length) < 0) return -1;
    request->field_count++;
    return 0;
}

static int store_head(YRequest *request, PyObject *status, PyObject *headers) {
    request->field_count = 0;
    if (!PyList_Check(headers) && !PyTuple_Check(headers)) {
        PyErr_Format(PyExc_TypeError, "headers must be a list of (name, value) tuples, not %.100s",
                     Py_TYPE(headers)->tp_name);
        return -1;
    }
    if (store_status(request, status) < 0) return -1;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(headers);
    for (Py_ssize_t i = 0; i < count; i++) {
        if (store_header(request, PySequence_Fast_GET_ITEM(headers, i)) < 0) return -1;
    }
    return 0;
}

// MARK: - start_response

static PyObject *reraise(PyObject *exc_info) {
    if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
        PyErr_SetString(PyExc_TypeError, "exc_info must be a (type, value, traceback) tuple");
        return NULL;
    }
    PyObject *type = PyTuple_GET_ITEM(exc_info, 0);
    PyObject *value = PyTuple_GET_ITEM(exc_info, 1);
    PyObject *traceback = PyTuple_GET_ITEM(exc_info, 2);
    PyErr_Restore(Py_NewRef(type), Py_NewRef(value), traceback == Py_None ? NULL : Py_NewRef(traceback));
    return NULL;
}

static PyObject *start_response_call(PyObject *callable, PyObject *const *args, size_t nargsf,
                                     PyObject *kwnames) {
    YRequest *request = ((YBoundCallable *)callable)->req;
    Py_ssize_t count = PyVectorcall_NARGS(nargsf);
    PyObject *params[3] = {NULL, NULL, NULL};
    static const char *const names[3] = {"status", "headers", "exc_info"};
    if (count > 3) {
        PyErr_Format(PyExc_TypeError, "start_response() takes at most 3 arguments (%zd given)", count);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) params[i] = args[i];
    Py_ssize_t keywords = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < keywords; k++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, k);
        int slot = -1;
        for (int i = 0; i < 3; i++) {
            if (PyUnicode_CompareWithASCIIString(name, names[i]) == 0) slot = i;
        }
        if (slot < 0 || params[slot]) {
            PyErr_Format(PyExc_TypeError, "start_response() got an unexpected or repeated keyword %R", name);
            return NULL;
        }
        params[slot] = args[count + k];
    }
    if (!params[0] || !params[1]) {
        PyErr_SetString(PyExc_TypeError, "start_response() requires status and headers");
        return NULL;
    }
    if (!request || !request->ctx) {
        PyErr_SetString(PyExc_RuntimeError, "start_response() called after the request finished");
        return NULL;
    }
    PyObject *exc_info = params[2] == Py_None ? NULL : params[2];
    if (exc_info) {
        // PEP 3333: with headers already sent, the original error propagates; before that, the
        // new status and headers replace the old ones.
        if (request->committed) return reraise(exc_info);
    } else if (request->started) {
        PyErr_SetString(PyExc_RuntimeError, "start_response() called a second time without exc_info");
        return NULL;
    }
    request->started = 0;
    if (store_head(request, params[0], params[1]) < 0) return NULL;
    request->started = 1;
    return Py_NewRef(request->writer);
}

PyTypeObject YStartResponse_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "yimmo.StartResponse",
    .tp_basicsize = sizeof(YBoundCallable),
    .tp_dealloc = (destructor)PyObject_Free,
    .tp_vectorcall_offset = offsetof(YBoundCallable, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "start_response(status, headers, exc_info=None) -> write",
};

// MARK: - write

static PyObject *write_call(PyObject *callable, PyObject *const *args, size_t nargsf,
                            PyObject *kwnames) {
    YRequest *request = ((YBoundCallable *)callable)->req;
    if (PyVectorcall_NARGS(nargsf) != 1 || kwnames) {
        PyErr_SetString(PyExc_TypeError, "write() takes exactly one argument");
        return NULL;
    }
    if (!request || !request->ctx) {
        PyErr_SetString(PyExc_RuntimeError, "write() called after the request finished");
        return NULL;
    }
    if (!request->started) {
        PyErr_SetString(PyExc_RuntimeError, "write() called before start_response()");
        return NULL;
    }
    if (PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "write() argument must be bytes, not str");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
    // Frozen before the GIL is released: from here start_response may only re-raise.
    request->committed = 1;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = ypy_callbacks.write_body(request->ctx, view.buf, (long)view.len);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (rc == -1) {
        PyErr_SetString(PyExc_OSError, "client disconnected");
        return NULL;
    }
    if (rc < 0) {
        PyErr_SetString(PyExc_ValueError, "the response head was rejected");
        return NULL;
    }
    Py_RETURN_NONE;
}

PyTypeObject YWriter_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "yimmo.Write",
    .tp_basicsize = sizeof(YBoundCallable),
    .tp_dealloc = (destructor)PyObject_Free,
    .tp_vectorcall_offset = offsetof(YBoundCallable, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "write(data): send bytes of the response body immediately",
};
