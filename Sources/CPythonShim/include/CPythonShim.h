#ifndef C_PYTHON_SHIM_H
#define C_PYTHON_SHIM_H

// The CPython embedding API as Swift sees it. This header never includes Python.h: pyconfig.h
// defines _GNU_SOURCE/_XOPEN_SOURCE, which gives Swift two fd_set layouts (PLATFORM.md).
// PyObject stays opaque; every call, macro and global is wrapped in the .c files.
//
// Conventions: functions returning PyObject * return a NEW reference unless documented as
// borrowed; NULL (or -1) means a Python exception is set. Unless stated otherwise every function
// needs the calling thread to hold the GIL.

#include <stddef.h>
#include <stdint.h>

typedef struct _object PyObject;
typedef struct _ts PyThreadState;

/// Per-worker request state shared by start_response, write, wsgi.input and wsgi.errors.
typedef struct YRequest YRequest;

// MARK: - Callbacks into Swift (registered once, before any request)

typedef struct {
    /// Reads request body bytes into buf. Called WITHOUT the GIL. >0 bytes, 0 end, -1 failure.
    long (*read_body)(void *ctx, void *buf, long capacity);
    /// Sends bytes from the app's write() callable, committing the head first if needed. Called
    /// WITHOUT the GIL. 0 = sent, -1 = client gone, -2 = the head could not be committed.
    int (*write_body)(void *ctx, const void *buf, long length);
    /// Logs one line of wsgi.errors output (no trailing newline). Called WITHOUT the GIL.
    void (*log_error_line)(const char *line, long length);
} YPyCallbacks;

void YPy_SetCallbacks(YPyCallbacks callbacks);

// MARK: - Runtime (runtime.c)

int YPy_VersionMajor(void);
int YPy_VersionMinor(void);

/// Initialises the interpreter once. `executable` (may be NULL) becomes PyConfig.executable: a
/// virtualenv's bin/python makes sys.prefix the venv. `home` (may be NULL) becomes PyConfig.home.
/// On failure returns -1 and stores a malloc'd message in *error (caller frees).
/// On success the calling thread holds the GIL.
int YPy_Initialize(const char *executable, const char *home, char **error);

/// The directory holding the standard library's prefix, derived from where libpython was loaded
/// from (a malloc'd string, or NULL if not found). Needs no interpreter.
char *YPy_LibraryPrefix(void);

/// Registers the shim's types and prepares the cached objects. Call once after initialising.
int YPy_PrepareTypes(void);

/// Puts a directory first on sys.path unless it is already there (the working directory).
int YPy_PrependSysPath(const char *entry);

/// Releases the GIL held by the calling thread, returning its thread state.
PyThreadState *YPy_SaveThread(void);
/// Re-acquires the GIL for a thread state returned by YPy_SaveThread.
void YPy_RestoreThread(PyThreadState *state);
/// Gives the calling (new, native) thread its own thread state, returned with the GIL held.
PyThreadState *YPy_NewThreadState(void);
/// Deletes a thread state made by YPy_NewThreadState (given released); the thread then holds nothing.
void YPy_EndThreadState(PyThreadState *state);
/// Acquires the GIL on any thread (PyGILState_Ensure); returns the token for YPy_GILRelease.
int YPy_GILEnsure(void);
void YPy_GILRelease(int token);

// MARK: - Errors (errors.c)

void YPy_ErrClear(void);
/// Formats the pending exception with its traceback (malloc'd UTF-8, caller frees) and clears it.
char *YPy_FormatException(void);
/// True when the pending exception is an instance of OSError.
int YPy_ErrIsOSError(void);

// MARK: - Objects (objects.c)

void YPy_IncRef(PyObject *object);
void YPy_DecRef(PyObject *object);
/// Py_XDECREF.
void YPy_XDecRef(PyObject *object);
int YPy_IsCallable(PyObject *object);
/// type(object).__qualname__ as malloc'd UTF-8.
char *YPy_TypeName(PyObject *object);
PyObject *YPy_StrFromUTF8(const char *text, long length);
PyObject *YPy_StrFromLatin1(const void *bytes, long length);
PyObject *YPy_StrFromLong(long value);
/// If object is bytes, stores its buffer and returns 1; otherwise 0 (no error set).
int YPy_BytesView(PyObject *object, const char **data, long *length);
PyObject *YPy_DictNew(void);
/// d[key] = value for a UTF-8 key (not hot-path).
int YPy_DictSetString(PyObject *dict, const char *key, PyObject *value);
/// d[key] as a new reference, or NULL with KeyError.
PyObject *YPy_DictGetString(PyObject *dict, const char *key);
/// Imports a module by dotted name.
PyObject *YPy_Import(const char *name);
PyObject *YPy_GetAttr(PyObject *object, const char *name);
/// Calls with no arguments.
PyObject *YPy_Call0(PyObject *callable);
/// Calls with the items of a tuple as positional arguments and a dict (or NULL) as keywords.
PyObject *YPy_CallArgs(PyObject *callable, PyObject *args, PyObject *kwargs);
/// Compiles and runs `source` as a new module named `name`; returns the module's dict.
PyObject *YPy_RunModuleSource(const char *source, const char *name);
/// Parses "a, 1, key='x'" into (tuple, dict) with ast.literal_eval on each argument.
int YPy_ParseLiteralArguments(const char *text, PyObject **args, PyObject **kwargs);

// MARK: - Environ (environ.c)

typedef enum {
    YPY_KEY_REQUEST_METHOD, YPY_KEY_SCRIPT_NAME, YPY_KEY_PATH_INFO, YPY_KEY_QUERY_STRING,
    YPY_KEY_CONTENT_TYPE, YPY_KEY_CONTENT_LENGTH, YPY_KEY_SERVER_NAME, YPY_KEY_SERVER_PORT,
    YPY_KEY_SERVER_PROTOCOL, YPY_KEY_REMOTE_ADDR, YPY_KEY_REMOTE_PORT, YPY_KEY_WSGI_VERSION,
    YPY_KEY_WSGI_URL_SCHEME, YPY_KEY_WSGI_INPUT, YPY_KEY_WSGI_ERRORS, YPY_KEY_WSGI_MULTITHREAD,
    YPY_KEY_WSGI_MULTIPROCESS, YPY_KEY_WSGI_RUN_ONCE, YPY_KEY_WSGI_INPUT_TERMINATED,
    YPY_KEY_WSGI_FILE_WRAPPER, YPY_KEY_HTTP_HOST, YPY_KEY_COUNT
} YPyEnvironKey;

/// The per-worker template every request's environ is copied from: the constant keys plus this
/// worker's wsgi.errors stream.
PyObject *YPy_EnvironBase(YRequest *request, const char *scriptName, long scriptNameLength,
                          int multithread, int multiprocess);
/// PyDict_Copy of the base.
PyObject *YPy_EnvironCopy(PyObject *base);
/// environ[key] = value (borrowed).
int YPy_EnvironSet(PyObject *environ, YPyEnvironKey key, PyObject *value);
/// environ[key] = latin-1 str of the bytes.
int YPy_EnvironSetLatin1(PyObject *environ, YPyEnvironKey key, const void *bytes, long length);
/// REQUEST_METHOD, reusing cached strs for the common methods.
int YPy_EnvironSetMethod(PyObject *environ, const void *bytes, long length);
/// SERVER_PROTOCOL "HTTP/1.<minor>".
int YPy_EnvironSetProtocol(PyObject *environ, int versionMinor);
/// Adds one request header as HTTP_<NAME> (or CONTENT_TYPE / CONTENT_LENGTH); names containing
/// '_' are dropped; a repeated header is joined with ", " ("; " for Cookie).
int YPy_EnvironAddHeader(PyObject *environ, const void *name, long nameLength,
                         const void *value, long valueLength);

// MARK: - Request state, start_response and write (request.c)

YRequest *YPy_RequestNew(void);
/// Starts a request: (re)creates start_response / write / wsgi.input when an app kept the previous
/// ones, and binds them to ctx. contentLength is -1 for chunked or no-length bodies with a body,
/// 0 when there is no body.
int YPy_RequestBegin(YRequest *request, void *ctx, long long contentLength);
/// Ends a request: detaches every object still referenced by the app, so a late call raises.
void YPy_RequestEnd(YRequest *request);
/// Borrowed references valid between Begin and End.
PyObject *YPy_RequestStartResponse(YRequest *request);
PyObject *YPy_RequestInput(YRequest *request);

/// Whether start_response has been called. No GIL needed.
int YPy_RequestStarted(const YRequest *request);
/// Freezes the head: from now on start_response may only re-raise an exc_info.
void YPy_RequestMarkCommitted(YRequest *request);
/// The validated status line ("200 OK"), latin-1. No GIL needed.
void YPy_RequestStatus(const YRequest *request, const char **data, long *length);
long YPy_RequestHeaderCount(const YRequest *request);
void YPy_RequestHeader(const YRequest *request, long index, const char **name, long *nameLength,
                       const char **value, long *valueLength);
/// The app's Content-Length value, or -1 when absent or unparsable. No GIL needed.
long long YPy_RequestContentLength(const YRequest *request);

// MARK: - Calling the application and iterating its result (response.c)

/// application(environ, start_response).
PyObject *YPy_CallApplication(PyObject *app, PyObject *environ, PyObject *startResponse);
/// If result is a list or tuple of exactly one bytes object, returns it (borrowed); else NULL.
PyObject *YPy_SingleBytesItem(PyObject *result);
PyObject *YPy_GetIter(PyObject *object);
/// Next item: 1 = *item set (new ref), 0 = exhausted, -1 = exception.
int YPy_IterNext(PyObject *iterator, PyObject **item);
/// Calls result.close() if it has one. 0 = ok or none, -1 = close raised.
int YPy_CloseResult(PyObject *result);

// MARK: - wsgi.file_wrapper (filewrapper.c)

/// If result is one of our FileWrappers over a regular file, stores its descriptor, the current
/// position and the bytes from there to the end of the file and returns 1; else 0 (no error).
int YPy_FileWrapperRegularFile(PyObject *result, int *fd, long long *offset, long long *remaining);

// MARK: - Threads (thread.c; no Python)

/// Names the calling thread (at most 15 bytes are kept).
void YThread_SetName(const char *name);

#endif
