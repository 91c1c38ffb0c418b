#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "CPythonShim.h"

int YPy_IsInitialized(void) { return Py_IsInitialized(); }
