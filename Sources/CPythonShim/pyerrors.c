// Exceptions: checking, clearing, and formatting with their tracebacks for the log.
#include "internal.h"

#include <string.h>

void YPy_ErrClear(void) { PyErr_Clear(); }
int YPy_ErrIsOSError(void) { return PyErr_ExceptionMatches(PyExc_OSError); }

static char *copy_utf8(PyObject *text) {
    Py_ssize_t length;
    const char *utf8 = text ? PyUnicode_AsUTF8AndSize(text, &length) : NULL;
    if (!utf8) {
        PyErr_Clear();
        return NULL;
    }
    // Tracebacks end with a newline; the log adds its own.
    while (length > 0 && utf8[length - 1] == '\n') length--;
    char *copy = malloc((size_t)length + 1);
    if (copy) {
        memcpy(copy, utf8, (size_t)length);
        copy[length] = '\0';
    }
    return copy;
}

char *YPy_FormatException(void) {
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    if (!type) return strdup("(no exception)");
    PyErr_NormalizeException(&type, &value, &traceback);
    if (traceback && value) PyException_SetTraceback(value, traceback);

    char *result = NULL;
    PyObject *module = PyImport_ImportModule("traceback");
    PyObject *lines = module ? PyObject_CallMethod(module, "format_exception", "OOO", type,
                                                   value ? value : Py_None,
                                                   traceback ? traceback : Py_None)
                             : NULL;
    if (lines) {
        PyObject *empty = PyUnicode_FromString("");
        PyObject *joined = empty ? PyUnicode_Join(empty, lines) : NULL;
        result = copy_utf8(joined);
        Py_XDECREF(joined);
        Py_XDECREF(empty);
    }
    if (!result) {
        // Formatting itself failed (e.g. a broken traceback module): fall back to repr(value).
        PyErr_Clear();
        PyObject *text = PyObject_Repr(value ? value : type);
        result = copy_utf8(text);
        Py_XDECREF(text);
    }
    Py_XDECREF(lines);
    Py_XDECREF(module);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
    PyErr_Clear();
    return result ? result : strdup("(unformattable exception)");
}
