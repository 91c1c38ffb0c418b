// Only the C shim includes this module; Swift never imports Python.h (see PLATFORM.md: fd_set).
#define PY_SSIZE_T_CLEAN
#include <Python.h>
