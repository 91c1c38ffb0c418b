// Calling the application and walking its result.
#include "internal.h"

PyObject *YPy_CallApplication(PyObject *app, PyObject *environ, PyObject *startResponse) {
    PyObject *args[2] = {environ, startResponse};
    return PyObject_Vectorcall(app, args, 2, NULL);
}

PyObject *YPy_SingleBytesItem(PyObject *result) {
    PyObject *item = NULL;
    if (PyList_CheckExact(result) && PyList_GET_SIZE(result) == 1) {
        item = PyList_GET_ITEM(result, 0);
    } else if (PyTuple_CheckExact(result) && PyTuple_GET_SIZE(result) == 1) {
        item = PyTuple_GET_ITEM(result, 0);
    }
    return item && PyBytes_CheckExact(item) ? item : NULL;
}

PyObject *YPy_GetIter(PyObject *object) { return PyObject_GetIter(object); }

int YPy_IterNext(PyObject *iterator, PyObject **item) {
    *item = PyIter_Next(iterator);
    if (*item) return 1;
    return PyErr_Occurred() ? -1 : 0;
}

int YPy_CloseResult(PyObject *result) {
    // Lists, tuples and bytes have no close(); skip the attribute lookup for the common case.
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result) || PyBytes_CheckExact(result)) {
        return 0;
    }
    PyObject *close;
    if (_PyObject_LookupAttr(result, ypy_str_close, &close) < 0) return -1;
    if (!close) return 0;
    PyObject *value = PyObject_CallNoArgs(close);
    Py_DECREF(close);
    if (!value) return -1;
    Py_DECREF(value);
    return 0;
}
