#ifndef C_PYTHON_SHIM_H
#define C_PYTHON_SHIM_H

// The CPython embedding API as Swift sees it. This header never includes Python.h: pyconfig.h
// defines _GNU_SOURCE/_XOPEN_SOURCE, which gives Swift two fd_set layouts (PLATFORM.md).
// PyObject stays opaque; every call, macro and global is wrapped in shim.c.

typedef struct _object PyObject;

/// Py_IsInitialized(), so the build links libpython from the start.
int YPy_IsInitialized(void);

#endif
