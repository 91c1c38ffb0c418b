// Interpreter lifetime: initialisation from a PyConfig, thread states and the GIL.
#include "internal.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

YPyCallbacks ypy_callbacks;
PyObject *ypy_str_close, *ypy_str_read, *ypy_str_fileno, *ypy_str_tell;

void YPy_SetCallbacks(YPyCallbacks callbacks) { ypy_callbacks = callbacks; }

int YPy_VersionMajor(void) { return PY_MAJOR_VERSION; }
int YPy_VersionMinor(void) { return PY_MINOR_VERSION; }

static char *status_message(PyStatus status) {
    const char *func = status.func ? status.func : "";
    const char *message = status.err_msg ? status.err_msg : "unknown error";
    size_t size = strlen(func) + strlen(message) + 3;
    char *text = malloc(size);
    if (text) snprintf(text, size, "%s%s%s", func, *func ? ": " : "", message);
    return text;
}

int YPy_Initialize(const char *executable, const char *home, char **error) {
    PyConfig config;
    // The regular (not isolated) configuration, so operators' PYTHONPATH, PYTHONUNBUFFERED,
    // PYTHONWARNINGS, PYTHONDONTWRITEBYTECODE... keep their usual meaning; what would surprise in
    // a server is switched off below.
    PyConfig_InitPythonConfig(&config);
    config.parse_argv = 0;
    // The server owns SIGINT/SIGTERM/SIGPIPE; Python must not install handlers for them.
    config.install_signal_handlers = 0;
    // ~/.local packages of whoever starts the server must not leak into the app.
    config.user_site_directory = 0;
    // The working directory is put on sys.path explicitly (YPy_PrependSysPath).
    config.safe_path = 1;

    PyStatus status = PyStatus_Ok();
    if (executable) {
        status = PyConfig_SetBytesString(&config, &config.executable, executable);
        if (PyStatus_Exception(status)) goto fail;
        // program_name drives sys.executable's fallback search; keep both consistent.
        status = PyConfig_SetBytesString(&config, &config.program_name, executable);
        if (PyStatus_Exception(status)) goto fail;
    }
    if (home) {
        status = PyConfig_SetBytesString(&config, &config.home, home);
        if (PyStatus_Exception(status)) goto fail;
    }
    status = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(status)) goto fail;
    PyConfig_Clear(&config);
    return 0;

fail:
    *error = status_message(status);
    PyConfig_Clear(&config);
    return -1;
}

char *YPy_LibraryPrefix(void) {
    Dl_info info;
    if (!dladdr((void *)&Py_InitializeFromConfig, &info) || !info.dli_fname) return NULL;
    char resolved[PATH_MAX];
    if (!realpath(info.dli_fname, resolved)) return NULL;
    // Walk up from libpython's directory to the first one holding lib/pythonX.Y/os.py: that is
    // where the standard library of this very libpython lives, wherever the executable is.
    char landmark[PATH_MAX + 64];
    char *slash;
    while ((slash = strrchr(resolved, '/')) != NULL) {
        *slash = '\0';
        snprintf(landmark, sizeof landmark, "%s/lib/python%d.%d/os.py", resolved,
                 PY_MAJOR_VERSION, PY_MINOR_VERSION);
        if (access(landmark, R_OK) == 0) return strdup(*resolved ? resolved : "/");
    }
    return NULL;
}

int YPy_PrepareTypes(void) {
    PyTypeObject *types[] = {&YStartResponse_Type, &YWriter_Type, &YInput_Type, &YErrors_Type,
                             &YFileWrapper_Type};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (PyType_Ready(types[i]) < 0) return -1;
    }
    ypy_str_close = PyUnicode_InternFromString("close");
    ypy_str_read = PyUnicode_InternFromString("read");
    ypy_str_fileno = PyUnicode_InternFromString("fileno");
    ypy_str_tell = PyUnicode_InternFromString("tell");
    if (!ypy_str_close || !ypy_str_read || !ypy_str_fileno || !ypy_str_tell) return -1;
    if (ypy_environ_prepare() < 0) return -1;
    return 0;
}

int YPy_PrependSysPath(const char *entry) {
    PyObject *path = PySys_GetObject("path");  // borrowed
    if (!path || !PyList_Check(path)) {
        PyErr_SetString(PyExc_RuntimeError, "sys.path is not a list");
        return -1;
    }
    PyObject *directory = PyUnicode_DecodeFSDefault(entry);
    if (!directory) return -1;
    int contained = PySequence_Contains(path, directory);
    int rc = contained == 0 ? PyList_Insert(path, 0, directory) : contained;
    Py_DECREF(directory);
    return rc < 0 ? -1 : 0;
}

PyThreadState *YPy_SaveThread(void) { return PyEval_SaveThread(); }
void YPy_RestoreThread(PyThreadState *state) { PyEval_RestoreThread(state); }

PyThreadState *YPy_NewThreadState(void) {
    // On a thread without a thread state this creates one and takes the GIL. It is never
    // released with PyGILState_Release: the thread keeps this state for its whole life.
    (void)PyGILState_Ensure();
    return PyThreadState_Get();
}

int YPy_GILEnsure(void) { return (int)PyGILState_Ensure(); }
void YPy_GILRelease(int token) { PyGILState_Release((PyGILState_STATE)token); }

void YPy_EndThreadState(PyThreadState *state) {
    PyEval_RestoreThread(state);
    PyGILState_Release(PyGILState_UNLOCKED);  // pairs with the Ensure in YPy_NewThreadState
}
