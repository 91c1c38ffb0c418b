// wsgi.errors: a text stream whose complete lines go to the server log at ERROR level.
// One per worker, so partial lines from different threads never mix.
#include "internal.h"

#include <string.h>

/// An unterminated line longer than this is logged as it stands rather than held.
#define ERRORS_LINE_LIMIT 65536

typedef struct {
    PyObject_HEAD
    char *pending;
    size_t length, capacity;
} YErrorsObject;

PyObject *ypy_errors_new(void) {
    YErrorsObject *self = PyObject_New(YErrorsObject, &YErrors_Type);
    if (!self) return NULL;
    self->pending = NULL;
    self->length = self->capacity = 0;
    return (PyObject *)self;
}

static void errors_dealloc(PyObject *object) {
    PyMem_RawFree(((YErrorsObject *)object)->pending);
    PyObject_Free(object);
}

/// Logs pending[0..<count] line by line with the GIL released, then drops it from pending.
static void emit(YErrorsObject *self, size_t count) {
    if (count == 0) return;
    // A copy, because another thread may write to this stream while the GIL is released.
    char *chunk = PyMem_RawMalloc(count);
    if (!chunk) return;
    memcpy(chunk, self->pending, count);
    memmove(self->pending, self->pending + count, self->length - count);
    self->length -= count;
    Py_BEGIN_ALLOW_THREADS
    size_t line = 0;
    while (line < count) {
        char *newline = memchr(chunk + line, '\n', count - line);
        size_t end = newline ? (size_t)(newline - chunk) : count;
        ypy_callbacks.log_error_line(chunk + line, (long)(end - line));
        line = end + 1;
    }
    Py_END_ALLOW_THREADS
    PyMem_RawFree(chunk);
}

static int append(YErrorsObject *self, const char *text, size_t length) {
    if (self->length + length > self->capacity) {
        size_t capacity = self->capacity ? self->capacity : 256;
        while (capacity < self->length + length) capacity *= 2;
        char *grown = PyMem_RawRealloc(self->pending, capacity);
        if (!grown) {
            PyErr_NoMemory();
            return -1;
        }
        self->pending = grown;
        self->capacity = capacity;
    }
    memcpy(self->pending + self->length, text, length);
    self->length += length;
    return 0;
}

static int write_text(YErrorsObject *self, PyObject *text) {
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "wsgi.errors.write() argument must be str, not %.100s",
                     Py_TYPE(text)->tp_name);
        return -1;
    }
    Py_ssize_t length;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &length);
    if (!utf8 || append(self, utf8, (size_t)length) < 0) return -1;
    size_t complete = self->length;
    while (complete > 0 && self->pending[complete - 1] != '\n') complete--;
    if (complete == 0 && self->length > ERRORS_LINE_LIMIT) complete = self->length;
    emit(self, complete);
    return 0;
}

static PyObject *errors_write(PyObject *object, PyObject *text) {
    if (write_text((YErrorsObject *)object, text) < 0) return NULL;
    return PyLong_FromSsize_t(PyUnicode_GET_LENGTH(text));
}

static PyObject *errors_writelines(PyObject *object, PyObject *lines) {
    PyObject *iterator = PyObject_GetIter(lines);
    if (!iterator) return NULL;
    PyObject *line;
    while ((line = PyIter_Next(iterator)) != NULL) {
        int rc = write_text((YErrorsObject *)object, line);
        Py_DECREF(line);
        if (rc < 0) break;
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

void ypy_errors_flush(PyObject *object) {
    YErrorsObject *self = (YErrorsObject *)object;
    emit(self, self->length);
}

static PyObject *errors_flush(PyObject *object, PyObject *unused) {
    (void)unused;
    ypy_errors_flush(object);
    Py_RETURN_NONE;
}

static PyMethodDef errors_methods[] = {
    {"write", errors_write, METH_O, "write(text): log complete lines at ERROR"},
    {"writelines", errors_writelines, METH_O, "writelines(lines): write each"},
    {"flush", errors_flush, METH_NOARGS, "flush(): log an unterminated line too"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject YErrors_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "yimmo.Errors",
    .tp_basicsize = sizeof(YErrorsObject),
    .tp_dealloc = errors_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "wsgi.errors: text written here goes to the server log",
    .tp_methods = errors_methods,
};
