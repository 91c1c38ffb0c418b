#ifndef YPY_INTERNAL_H
#define YPY_INTERNAL_H

// Shared between the shim's .c files only; Swift never sees this header (it includes Python.h).

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "CPythonShim.h"

extern YPyCallbacks ypy_callbacks;

extern PyTypeObject YStartResponse_Type;
extern PyTypeObject YWriter_Type;
extern PyTypeObject YInput_Type;
extern PyTypeObject YErrors_Type;
extern PyTypeObject YFileWrapper_Type;

typedef struct {
    uint32_t name_offset, name_length, value_offset, value_length;
} YHeaderField;

struct YRequest {
    /// The Swift request context; NULL outside a request.
    void *ctx;
    long long content_length;
    /// start_response has been called successfully.
    int started;
    /// The head is frozen: it has been (or is being) handed to the exchange.
    int committed;
    /// Status line followed by header names and values, latin-1, not NUL-terminated.
    char *head;
    size_t head_length, head_capacity, status_length;
    YHeaderField *fields;
    long field_count, field_capacity;
    /// Owned; replaced by fresh objects when an app keeps one past the end of a request.
    PyObject *start_response, *writer, *input;
    /// Owned; one per worker for its life (stateless apart from a partial line).
    PyObject *errors;
};

/// Objects that belong to one YRequest; req is NULL once detached.
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    YRequest *req;
} YBoundCallable;

PyObject *ypy_input_new(YRequest *request);
void ypy_input_reset(PyObject *input, long long content_length);
PyObject *ypy_errors_new(void);
void ypy_errors_flush(PyObject *errors);
int ypy_environ_prepare(void);

/// Interned attribute names used on hot paths.
extern PyObject *ypy_str_close, *ypy_str_read, *ypy_str_fileno, *ypy_str_tell;

#endif
