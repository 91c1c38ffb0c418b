// Thin wrappers over object macros and calls that Swift cannot import (PLATFORM.md).
#include "internal.h"

#include <string.h>

void YPy_IncRef(PyObject *object) { Py_INCREF(object); }
void YPy_DecRef(PyObject *object) { Py_DECREF(object); }
void YPy_XDecRef(PyObject *object) { Py_XDECREF(object); }
int YPy_IsCallable(PyObject *object) { return PyCallable_Check(object); }

static char *strdup_utf8(PyObject *text) {
    const char *utf8 = text ? PyUnicode_AsUTF8(text) : NULL;
    char *copy = utf8 ? strdup(utf8) : NULL;
    if (!copy) PyErr_Clear();
    return copy;
}

char *YPy_TypeName(PyObject *object) {
    PyObject *name = PyObject_GetAttrString((PyObject *)Py_TYPE(object), "__qualname__");
    char *copy = strdup_utf8(name);
    Py_XDECREF(name);
    return copy;
}

PyObject *YPy_StrFromUTF8(const char *text, long length) {
    return PyUnicode_DecodeUTF8(text, length, "surrogateescape");
}

PyObject *YPy_StrFromLatin1(const void *bytes, long length) {
    return PyUnicode_DecodeLatin1(bytes, length, NULL);
}

PyObject *YPy_StrFromLong(long value) {
    // Per request (REMOTE_PORT): digits by hand rather than PyUnicode_FromFormat's printf.
    char digits[24];
    char *end = digits + sizeof digits, *at = end;
    unsigned long magnitude = value < 0 ? 0UL - (unsigned long)value : (unsigned long)value;
    do {
        *--at = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    if (value < 0) *--at = '-';
    return PyUnicode_DecodeLatin1(at, end - at, NULL);
}

int YPy_BytesView(PyObject *object, const char **data, long *length) {
    if (!PyBytes_Check(object)) return 0;
    *data = PyBytes_AS_STRING(object);
    *length = (long)PyBytes_GET_SIZE(object);
    return 1;
}

PyObject *YPy_DictNew(void) { return PyDict_New(); }

int YPy_DictSetString(PyObject *dict, const char *key, PyObject *value) {
    return PyDict_SetItemString(dict, key, value);
}

PyObject *YPy_DictGetString(PyObject *dict, const char *key) {
    PyObject *value = PyDict_GetItemString(dict, key);  // borrowed
    if (!value) {
        PyErr_SetString(PyExc_KeyError, key);
        return NULL;
    }
    return Py_NewRef(value);
}

PyObject *YPy_Import(const char *name) { return PyImport_ImportModule(name); }

PyObject *YPy_GetAttr(PyObject *object, const char *name) {
    return PyObject_GetAttrString(object, name);
}

PyObject *YPy_Call0(PyObject *callable) { return PyObject_CallNoArgs(callable); }

PyObject *YPy_CallArgs(PyObject *callable, PyObject *args, PyObject *kwargs) {
    return PyObject_Call(callable, args, kwargs);
}

PyObject *YPy_RunModuleSource(const char *source, const char *name) {
    PyObject *module = PyImport_AddModule(name);  // borrowed, registered in sys.modules
    if (!module) return NULL;
    PyObject *globals = PyModule_GetDict(module);  // borrowed
    if (PyDict_GetItemString(globals, "__builtins__") == NULL &&
        PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) < 0) {
        return NULL;
    }
    PyObject *code = Py_CompileString(source, name, Py_file_input);
    if (!code) return NULL;
    PyObject *result = PyEval_EvalCode(code, globals, globals);
    Py_DECREF(code);
    if (!result) return NULL;
    Py_DECREF(result);
    Py_INCREF(globals);
    return globals;
}

// Arguments of `module:factory(...)` are Python literals; anything else is refused by
// ast.literal_eval rather than executed.
static const char literal_arguments_source[] =
    "import ast\n"
    "def parse(text):\n"
    "    call = ast.parse('f(' + text + ')', mode='eval').body\n"
    "    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):\n"
    "        raise ValueError('not an argument list: %r' % text)\n"
    "    args = tuple(ast.literal_eval(a) for a in call.args)\n"
    "    kwargs = {}\n"
    "    for k in call.keywords:\n"
    "        if k.arg is None:\n"
    "            raise ValueError('**kwargs is not a literal')\n"
    "        kwargs[k.arg] = ast.literal_eval(k.value)\n"
    "    return args, kwargs\n";

int YPy_ParseLiteralArguments(const char *text, PyObject **args, PyObject **kwargs) {
    PyObject *globals = YPy_RunModuleSource(literal_arguments_source, "_yimmo_literal_arguments");
    if (!globals) return -1;
    PyObject *parse = PyDict_GetItemString(globals, "parse");  // borrowed
    PyObject *result = parse ? PyObject_CallFunction(parse, "s", text) : NULL;
    Py_DECREF(globals);
    if (!result) return -1;
    if (!PyTuple_Check(result) || PyTuple_GET_SIZE(result) != 2) {
        Py_DECREF(result);
        PyErr_SetString(PyExc_RuntimeError, "argument parser returned an unexpected value");
        return -1;
    }
    *args = Py_NewRef(PyTuple_GET_ITEM(result, 0));
    *kwargs = Py_NewRef(PyTuple_GET_ITEM(result, 1));
    Py_DECREF(result);
    return 0;
}
