// wsgi.input: a buffered reader over the exchange's request body. Reads block in Swift with the
// GIL released; the body streams in while the app runs, so only what the app asked for is held.
#include "internal.h"

#include <string.h>

#define INPUT_CHUNK 65536
/// A read() of unknown or huge size starts with at most this much and grows by doubling, so a
/// lying Content-Length cannot make one call allocate gigabytes up front.
#define INPUT_FIRST_ALLOCATION (1 << 20)

typedef struct {
    PyObject_HEAD
    YRequest *req;  // NULL once detached
    char *buffer;
    Py_ssize_t capacity, start, end;  // unread bytes: buffer[start..<end]
    long long remaining;              // body bytes not yet received; -1 when unknown
    int eof, failed;
} YInputObject;

PyObject *ypy_input_new(YRequest *request) {
    YInputObject *self = PyObject_New(YInputObject, &YInput_Type);
    if (!self) return NULL;
    self->req = request;
    self->buffer = NULL;
    self->capacity = self->start = self->end = 0;
    self->remaining = 0;
    self->eof = 1;
    self->failed = 0;
    return (PyObject *)self;
}

void ypy_input_reset(PyObject *object, long long content_length) {
    YInputObject *self = (YInputObject *)object;
    if (content_length == -2) {
        self->req = NULL;
        return;
    }
    self->start = self->end = 0;
    self->remaining = content_length;
    self->eof = content_length == 0;
    self->failed = 0;
    if (self->capacity > INPUT_CHUNK) {  // a long readline() grew it; don't keep that around
        PyMem_RawFree(self->buffer);
        self->buffer = NULL;
        self->capacity = 0;
    }
}

static void input_dealloc(PyObject *object) {
    PyMem_RawFree(((YInputObject *)object)->buffer);
    PyObject_Free(object);
}

static int check_attached(YInputObject *self) {
    if (self->req && self->req->ctx) return 0;
    PyErr_SetString(PyExc_ValueError, "wsgi.input used after its request finished");
    return -1;
}

/// One read from the exchange into dst: >0 bytes, 0 at the end of the body, -1 with OSError.
static Py_ssize_t receive(YInputObject *self, char *dst, Py_ssize_t capacity) {
    if (self->failed) {
        PyErr_SetString(PyExc_OSError, "request body unavailable: client disconnected, timed out, or sent a malformed or oversized body");
        return -1;
    }
    if (self->eof) return 0;
    if (self->remaining >= 0 && capacity > self->remaining) capacity = (Py_ssize_t)self->remaining;
    long count;
    void *ctx = self->req->ctx;
    Py_BEGIN_ALLOW_THREADS
    count = ypy_callbacks.read_body(ctx, dst, (long)capacity);
    Py_END_ALLOW_THREADS
    if (count < 0) {
        self->failed = 1;
        PyErr_SetString(PyExc_OSError, "request body unavailable: client disconnected, timed out, or sent a malformed or oversized body");
        return -1;
    }
    if (count == 0) {
        self->eof = 1;
        return 0;
    }
    if (self->remaining >= 0 && (self->remaining -= count) == 0) self->eof = 1;
    return count;
}

/// Makes room after buffer[end]: drops consumed bytes, and grows when the buffer is full.
static int make_room(YInputObject *self) {
    if (self->start > 0) {
        memmove(self->buffer, self->buffer + self->start, (size_t)(self->end - self->start));
        self->end -= self->start;
        self->start = 0;
    }
    if (self->end < self->capacity) return 0;
    Py_ssize_t capacity = self->capacity ? self->capacity * 2 : INPUT_CHUNK;
    char *grown = PyMem_RawRealloc(self->buffer, (size_t)capacity);
    if (!grown) {
        PyErr_NoMemory();
        return -1;
    }
    self->buffer = grown;
    self->capacity = capacity;
    return 0;
}

static PyObject *take(YInputObject *self, Py_ssize_t count) {
    PyObject *result = PyBytes_FromStringAndSize(self->buffer + self->start, count);
    if (result) self->start += count;
    return result;
}

/// Reads up to limit bytes (-1: to the end), blocking until limit bytes or the end of the body.
static PyObject *read_up_to(YInputObject *self, Py_ssize_t limit) {
    Py_ssize_t have = self->end - self->start;
    if (limit >= 0 && have >= limit) return take(self, limit);
    Py_ssize_t allocation;
    if (self->remaining >= 0) {
        long long expected = have + (self->remaining < INPUT_FIRST_ALLOCATION ? self->remaining
                                                                              : INPUT_FIRST_ALLOCATION);
        allocation = (Py_ssize_t)expected;
    } else {
        allocation = have + INPUT_CHUNK;
    }
    if (limit >= 0 && allocation > limit) allocation = limit;
    if (allocation == 0) return PyBytes_FromStringAndSize(NULL, 0);
    PyObject *result = PyBytes_FromStringAndSize(NULL, allocation);
    if (!result) return NULL;
    memcpy(PyBytes_AS_STRING(result), self->buffer + self->start, (size_t)have);
    self->start = self->end = 0;
    Py_ssize_t size = have;
    while (limit < 0 || size < limit) {
        if (size == allocation) {
            if (self->eof) break;
            allocation *= 2;
            if (limit >= 0 && allocation > limit) allocation = limit;
            if (_PyBytes_Resize(&result, allocation) < 0) return NULL;
        }
        Py_ssize_t count = receive(self, PyBytes_AS_STRING(result) + size, allocation - size);
        if (count < 0) {
            Py_DECREF(result);
            return NULL;
        }
        if (count == 0) break;
        size += count;
    }
    if (size != allocation && _PyBytes_Resize(&result, size) < 0) return NULL;
    return result;
}

/// Parses an optional size argument: absent, None or negative mean "no limit" (-1).
static int parse_size(PyObject *const *args, Py_ssize_t nargs, const char *name, Py_ssize_t *size) {
    *size = -1;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most 1 argument (%zd given)", name, nargs);
        return -1;
    }
    if (nargs == 0 || args[0] == Py_None) return 0;
    Py_ssize_t value = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);
    if (value == -1 && PyErr_Occurred()) return -1;
    *size = value < 0 ? -1 : value;
    return 0;
}

static PyObject *input_read(PyObject *object, PyObject *const *args, Py_ssize_t nargs) {
    YInputObject *self = (YInputObject *)object;
    Py_ssize_t size;
    if (parse_size(args, nargs, "read", &size) < 0 || check_attached(self) < 0) return NULL;
    return read_up_to(self, size);
}

static PyObject *readline(YInputObject *self, Py_ssize_t limit) {
    if (limit == 0) return PyBytes_FromStringAndSize(NULL, 0);
    Py_ssize_t scanned = 0;  // bytes after start already known to hold no newline
    for (;;) {
        Py_ssize_t have = self->end - self->start;
        Py_ssize_t window = (limit >= 0 && have > limit) ? limit : have;
        const char *from = self->buffer + self->start;
        const char *newline = window > scanned ? memchr(from + scanned, '\n', (size_t)(window - scanned)) : NULL;
        if (newline) return take(self, newline - from + 1);
        if ((limit >= 0 && have >= limit) || self->eof) return take(self, window);
        scanned = window;
        if (make_room(self) < 0) return NULL;
        Py_ssize_t count = receive(self, self->buffer + self->end, self->capacity - self->end);
        if (count < 0) return NULL;
        self->end += count;
    }
}

static PyObject *input_readline(PyObject *object, PyObject *const *args, Py_ssize_t nargs) {
    YInputObject *self = (YInputObject *)object;
    Py_ssize_t size;
    if (parse_size(args, nargs, "readline", &size) < 0 || check_attached(self) < 0) return NULL;
    return readline(self, size);
}

static PyObject *input_readlines(PyObject *object, PyObject *const *args, Py_ssize_t nargs) {
    YInputObject *self = (YInputObject *)object;
    Py_ssize_t hint;
    if (parse_size(args, nargs, "readlines", &hint) < 0 || check_attached(self) < 0) return NULL;
    PyObject *lines = PyList_New(0);
    if (!lines) return NULL;
    Py_ssize_t total = 0;
    for (;;) {
        PyObject *line = readline(self, -1);
        if (!line) {
            Py_DECREF(lines);
            return NULL;
        }
        Py_ssize_t length = PyBytes_GET_SIZE(line);
        int rc = length ? PyList_Append(lines, line) : 0;
        Py_DECREF(line);
        if (rc < 0) {
            Py_DECREF(lines);
            return NULL;
        }
        total += length;
        if (length == 0 || (hint > 0 && total >= hint)) return lines;
    }
}

static PyObject *input_next(PyObject *object) {
    YInputObject *self = (YInputObject *)object;
    if (check_attached(self) < 0) return NULL;
    PyObject *line = readline(self, -1);
    if (line && PyBytes_GET_SIZE(line) == 0) Py_CLEAR(line);  // StopIteration
    return line;
}

static PyMethodDef input_methods[] = {
    {"read", (PyCFunction)(void (*)(void))input_read, METH_FASTCALL,
     "read(size=-1): up to size bytes (all when negative or None); b'' at the end"},
    {"readline", (PyCFunction)(void (*)(void))input_readline, METH_FASTCALL,
     "readline(size=-1): one line including its newline, at most size bytes"},
    {"readlines", (PyCFunction)(void (*)(void))input_readlines, METH_FASTCALL,
     "readlines(hint=-1): list of lines, stopping once hint bytes were read"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject YInput_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "yimmo.Input",
    .tp_basicsize = sizeof(YInputObject),
    .tp_dealloc = input_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "wsgi.input: the request body",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = input_next,
    .tp_methods = input_methods,
};
