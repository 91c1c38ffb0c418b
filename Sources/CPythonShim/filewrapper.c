// wsgi.file_wrapper(filelike, blksize=8192). When the app returns it over a regular file the
// response driver sends the file with sendfile(2); otherwise it iterates like any iterable,
// reading blksize bytes at a time.
#include "internal.h"
#include "structmember.h"

#include <limits.h>

#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    PyObject_HEAD
    PyObject *filelike;
    Py_ssize_t blksize;
} YFileWrapperObject;

static int wrapper_init(PyObject *object, PyObject *args, PyObject *kwargs) {
    YFileWrapperObject *self = (YFileWrapperObject *)object;
    static char *keywords[] = {"filelike", "blksize", NULL};
    PyObject *filelike;
    Py_ssize_t blksize = 8192;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|n:file_wrapper", keywords, &filelike, &blksize)) {
        return -1;
    }
    if (blksize <= 0) {
        PyErr_SetString(PyExc_ValueError, "blksize must be positive");
        return -1;
    }
    Py_XSETREF(self->filelike, Py_NewRef(filelike));
    self->blksize = blksize;
    return 0;
}

static int wrapper_traverse(PyObject *object, visitproc visit, void *arg) {
    Py_VISIT(((YFileWrapperObject *)object)->filelike);
    return 0;
}

static int wrapper_clear(PyObject *object) {
    Py_CLEAR(((YFileWrapperObject *)object)->filelike);
    return 0;
}

static void wrapper_dealloc(PyObject *object) {
    PyObject_GC_UnTrack(object);
    wrapper_clear(object);
    Py_TYPE(object)->tp_free(object);
}

static PyObject *wrapper_next(PyObject *object) {
    YFileWrapperObject *self = (YFileWrapperObject *)object;
    if (!self->filelike) return NULL;
    PyObject *size = PyLong_FromSsize_t(self->blksize);
    if (!size) return NULL;
    PyObject *data = PyObject_CallMethodOneArg(self->filelike, ypy_str_read, size);
    Py_DECREF(size);
    if (!data) return NULL;
    Py_ssize_t length = PyObject_Length(data);
    if (length <= 0) Py_CLEAR(data);  // 0: the end (StopIteration); -1: error set
    return data;
}

static PyObject *wrapper_close(PyObject *object, PyObject *unused) {
    (void)unused;
    YFileWrapperObject *self = (YFileWrapperObject *)object;
    if (!self->filelike) Py_RETURN_NONE;
    PyObject *close;
    if (_PyObject_LookupAttr(self->filelike, ypy_str_close, &close) < 0) return NULL;
    if (!close) Py_RETURN_NONE;
    PyObject *result = PyObject_CallNoArgs(close);
    Py_DECREF(close);
    return result;
}

static PyMethodDef wrapper_methods[] = {
    {"close", wrapper_close, METH_NOARGS, "close(): close the file-like object if it can be"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef wrapper_members[] = {
    {"filelike", T_OBJECT, offsetof(YFileWrapperObject, filelike), READONLY, NULL},
    {"blksize", T_PYSSIZET, offsetof(YFileWrapperObject, blksize), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

PyTypeObject YFileWrapper_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "yimmo.FileWrapper",
    .tp_basicsize = sizeof(YFileWrapperObject),
    .tp_dealloc = wrapper_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "wsgi.file_wrapper(filelike, blksize=8192)",
    .tp_traverse = wrapper_traverse,
    .tp_clear = wrapper_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = wrapper_next,
    .tp_methods = wrapper_methods,
    .tp_members = wrapper_members,
    .tp_init = wrapper_init,
    .tp_new = PyType_GenericNew,
};

int YPy_FileWrapperRegularFile(PyObject *result, int *fd, long long *offset, long long *remaining) {
    if (Py_TYPE(result) != &YFileWrapper_Type) return 0;
    PyObject *filelike = ((YFileWrapperObject *)result)->filelike;
    if (!filelike) return 0;
    PyObject *number = PyObject_CallMethodNoArgs(filelike, ypy_str_fileno);
    long descriptor = number ? PyLong_AsLong(number) : -1;
    Py_XDECREF(number);
    struct stat status;
    if (descriptor < 0 || descriptor > INT_MAX || fstat((int)descriptor, &status) < 0 || !S_ISREG(status.st_mode)) {
        PyErr_Clear();  // no usable descriptor: fall back to read(blksize)
        return 0;
    }
    // tell() rather than lseek(): a buffered file object may have read ahead of its position.
    PyObject *position = PyObject_CallMethodNoArgs(filelike, ypy_str_tell);
    long long at = position ? PyLong_AsLongLong(position) : -1;
    Py_XDECREF(position);
    if (at < 0) {
        PyErr_Clear();
        at = lseek((int)descriptor, 0, SEEK_CUR);
        if (at < 0) return 0;
    }
    *fd = (int)descriptor;
    *offset = at;
    *remaining = status.st_size > at ? status.st_size - at : 0;
    return 1;
}
