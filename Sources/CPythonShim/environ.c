// The WSGI environ: interned keys, a per-worker base dict copied per request, and a cache from
// request header names to their HTTP_* keys, so a request creates only its value strings.
#include "internal.h"

#include <string.h>

static const char *const key_names[YPY_KEY_COUNT] = {
    "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING",
    "CONTENT_TYPE", "CONTENT_LENGTH", "SERVER_NAME", "SERVER_PORT",
    "SERVER_PROTOCOL", "REMOTE_ADDR", "REMOTE_PORT", "wsgi.version",
    "wsgi.url_scheme", "wsgi.input", "wsgi.errors", "wsgi.multithread",
    "wsgi.multiprocess", "wsgi.run_once", "wsgi.input_terminated", "wsgi.file_wrapper",
    "HTTP_HOST",
};
static PyObject *keys[YPY_KEY_COUNT];

static const char *const method_names[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS",
                                           "PATCH", "CONNECT", "TRACE"};
#define METHOD_COUNT (sizeof method_names / sizeof method_names[0])
static PyObject *methods[METHOD_COUNT];

static PyObject *protocol_10, *protocol_11, *empty_str, *http_str, *wsgi_version;
static PyObject *comma_separator, *cookie_separator;

// Header-name cache: open addressing over lower-cased names. Bounded, so a client sending
// endless distinct header names cannot grow it; past the bound, keys are built per request.
#define HEADER_SLOTS 1024
#define HEADER_CACHE_LIMIT 512
#define HEADER_NAME_MAX 64
typedef struct {
    uint32_t hash;
    uint8_t length;
    uint8_t is_cookie;
    char name[HEADER_NAME_MAX];  // lower-cased
    PyObject *key;               // NULL: the header is dropped (its name contains '_')
    int used;
    // The value this field had last time, reused while clients keep sending the same bytes
    // (Host, User-Agent, Accept...): no decode and no allocation. Never for credentials.
    uint8_t caches_value;
    PyObject *value;
} HeaderSlot;

/// Longest field value kept for reuse.
#define HEADER_VALUE_CACHE_MAX 256
static HeaderSlot header_slots[HEADER_SLOTS];
static int header_cached;

int ypy_environ_prepare(void) {
    for (int i = 0; i < YPY_KEY_COUNT; i++) {
        if (!(keys[i] = PyUnicode_InternFromString(key_names[i]))) return -1;
    }
    for (size_t i = 0; i < METHOD_COUNT; i++) {
        if (!(methods[i] = PyUnicode_InternFromString(method_names[i]))) return -1;
    }
    protocol_10 = PyUnicode_InternFromString("HTTP/1.0");
    protocol_11 = PyUnicode_InternFromString("HTTP/1.1");
    empty_str = PyUnicode_InternFromString("");
    http_str = PyUnicode_InternFromString("http");
    comma_separator = PyUnicode_InternFromString(", ");
    cookie_separator = PyUnicode_InternFromString("; ");
    wsgi_version = Py_BuildValue("(ii)", 1, 0);
    if (!protocol_10 || !protocol_11 || !empty_str || !http_str || !comma_separator ||
        !cookie_separator || !wsgi_version) {
        return -1;
    }
    return 0;
}

// Room for the base, the per-request keys and about twenty header fields: PyDict_Copy clones
// the base's key table at its size, so a request's insertions rarely resize the copy.
#define ENVIRON_PRESIZE 40

// Keys every request sets (Environ.build). The base holds them with placeholder values, so a
// request replaces values in place instead of inserting keys.
static const YPyEnvironKey per_request_keys[] = {
    YPY_KEY_REQUEST_METHOD, YPY_KEY_PATH_INFO, YPY_KEY_SERVER_PROTOCOL, YPY_KEY_SERVER_NAME,
    YPY_KEY_SERVER_PORT, YPY_KEY_REMOTE_ADDR, YPY_KEY_REMOTE_PORT, YPY_KEY_WSGI_INPUT,
};

PyObject *YPy_EnvironBase(YRequest *request, const char *scriptName, long scriptNameLength,
                          int multithread, int multiprocess) {
    PyObject *base = _PyDict_NewPresized(ENVIRON_PRESIZE);
    if (!base) return NULL;
    for (size_t i = 0; i < sizeof per_request_keys / sizeof per_request_keys[0]; i++) {
        if (PyDict_SetItem(base, keys[per_request_keys[i]], empty_str) < 0) goto fail;
    }
    PyObject *script_name = PyUnicode_DecodeLatin1(scriptName, scriptNameLength, NULL);
    if (!script_name) goto fail;
    int rc = PyDict_SetItem(base, keys[YPY_KEY_SCRIPT_NAME], script_name);
    Py_DECREF(script_name);
    if (rc < 0 ||
        PyDict_SetItem(base, keys[YPY_KEY_QUERY_STRING], empty_str) < 0 ||
        PyDict_SetItem(base, keys[YPY_KEY_WSGI_VERSION], wsgi_version) < 0 ||
        PyDict_SetItem(base, keys[YPY_KEY_WSGI_URL_SCHEME], http_str) < 0 ||
        PyDict_SetItem(base, keys[YPY_KEY_WSGI_ERRORS], request->errors) < 0 ||
        PyDict_SetItem(base, keys[YPY_KEY_WSGI_MULTITHREAD], multithread ? Py_True : Py_False) < 0 ||
        PyDict_SetItem(base, keys[YPY_KEY_WSGI_MULTIPROCESS], multiprocess ? Py_True : Py_False) < 0 ||
        PyDict_SetItem(base, keys[YPY_KEY_WSGI_RUN_ONCE], Py_False) < 0 ||
        PyDict_SetItem(base, keys[YPY_KEY_WSGI_INPUT_TERMINATED], Py_True) < 0 ||
        PyDict_SetItem(base, keys[YPY_KEY_WSGI_FILE_WRAPPER], (PyObject *)&YFileWrapper_Type) < 0) {
        goto fail;
    }
    return base;
fail:
    Py_DECREF(base);
    return NULL;
}

PyObject *YPy_EnvironCopy(PyObject *base) { return PyDict_Copy(base); }

int YPy_EnvironSet(PyObject *environ, YPyEnvironKey key, PyObject *value) {
    return PyDict_SetItem(environ, keys[key], value);
}

int YPy_EnvironSetLatin1(PyObject *environ, YPyEnvironKey key, const void *bytes, long length) {
    PyObject *value = length == 0 ? Py_NewRef(empty_str) : PyUnicode_DecodeLatin1(bytes, length, NULL);
    if (!value) return -1;
    int rc = PyDict_SetItem(environ, keys[key], value);
    Py_DECREF(value);
    return rc;
}

int YPy_EnvironSetMethod(PyObject *environ, const void *bytes, long length) {
    for (size_t i = 0; i < METHOD_COUNT; i++) {
        if ((size_t)length == strlen(method_names[i]) && memcmp(bytes, method_names[i], length) == 0) {
            return PyDict_SetItem(environ, keys[YPY_KEY_REQUEST_METHOD], methods[i]);
        }
    }
    return YPy_EnvironSetLatin1(environ, YPY_KEY_REQUEST_METHOD, bytes, length);
}

int YPy_EnvironSetProtocol(PyObject *environ, int versionMinor) {
    return PyDict_SetItem(environ, keys[YPY_KEY_SERVER_PROTOCOL],
                          versionMinor == 0 ? protocol_10 : protocol_11);
}

static inline unsigned char lower(unsigned char c) {
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

/// Builds the environ key for a header name. Returns a new reference, Py_None (new reference)
/// when the header must be dropped, or NULL with an exception.
static PyObject *make_header_key(const unsigned char *name, long length, int *is_cookie) {
    *is_cookie = (length == 6 && strncasecmp((const char *)name, "cookie", 6) == 0);
    if (memchr(name, '_', (size_t)length)) Py_RETURN_NONE;  // X_Foo must not pose as X-Foo
    if (length == 12 && strncasecmp((const char *)name, "content-type", 12) == 0) {
        return Py_NewRef(keys[YPY_KEY_CONTENT_TYPE]);
    }
    if (length == 14 && strncasecmp((const char *)name, "content-length", 14) == 0) {
        return Py_NewRef(keys[YPY_KEY_CONTENT_LENGTH]);
    }
    PyObject *key = PyUnicode_New(5 + length, 127);
    if (!key) return NULL;
    Py_UCS1 *data = PyUnicode_1BYTE_DATA(key);
    memcpy(data, "HTTP_", 5);
    for (long i = 0; i < length; i++) {
        unsigned char c = name[i];
        if (c >= 0x80) {  // not a token; the parser should have refused it
            Py_DECREF(key);
            Py_RETURN_NONE;
        }
        data[5 + i] = c == '-' ? '_' : ((c >= 'a' && c <= 'z') ? (Py_UCS1)(c - 32) : c);
    }
    PyUnicode_InternInPlace(&key);
    return key;
}

/// Fields whose values are never kept past their request.
static int is_credential(const unsigned char *name, long length) {
    return (length == 6 && strncasecmp((const char *)name, "cookie", 6) == 0)
        || (length == 13 && strncasecmp((const char *)name, "authorization", 13) == 0)
        || (length == 19 && strncasecmp((const char *)name, "proxy-authorization", 19) == 0);
}

/// The key for a header name (new reference; Py_None = drop), through the cache; `*slot_out`
/// is its cache slot, or NULL for a name the cache does not hold.
static PyObject *header_key(const unsigned char *name, long length, int *is_cookie, HeaderSlot **slot_out) {
    *slot_out = NULL;
    if (length <= 0 || length >= HEADER_NAME_MAX) return make_header_key(name, length, is_cookie);
    uint32_t hash = 2166136261u;
    for (long i = 0; i < length; i++) hash = (hash ^ lower(name[i])) * 16777619u;
    uint32_t index = hash & (HEADER_SLOTS - 1);
    for (;;) {
        HeaderSlot *slot = &header_slots[index];
        if (!slot->used) break;
        if (slot->hash == hash && slot->length == length) {
            long i = 0;
            while (i < length && lower(name[i]) == (unsigned char)slot->name[i]) i++;
            if (i == length) {
                *is_cookie = slot->is_cookie;
                *slot_out = slot;
                return Py_NewRef(slot->key ? slot->key : Py_None);
            }
        }
        index = (index + 1) & (HEADER_SLOTS - 1);
    }
    PyObject *key = make_header_key(name, length, is_cookie);
    if (!key || header_cached >= HEADER_CACHE_LIMIT) return key;
    HeaderSlot *slot = &header_slots[index];
    slot->used = 1;
    slot->hash = hash;
    slot->length = (uint8_t)length;
    slot->is_cookie = (uint8_t)*is_cookie;
    for (long i = 0; i < length; i++) slot->name[i] = (char)lower(name[i]);
    slot->key = key == Py_None ? NULL : Py_NewRef(key);  // the cache keeps its own reference
    slot->caches_value = !is_credential(name, length);
    slot->value = NULL;
    header_cached++;
    *slot_out = slot;
    return key;
}

int YPy_EnvironAddHeader(PyObject *environ, const void *name, long nameLength,
                         const void *value, long valueLength) {
    int is_cookie = 0;
    HeaderSlot *slot;
    PyObject *key = header_key(name, nameLength, &is_cookie, &slot);
    if (!key) return -1;
    if (key == Py_None) {
        Py_DECREF(key);
        return 0;
    }
    PyObject *text;
    PyObject *cached = slot && slot->caches_value ? slot->value : NULL;
    if (valueLength == 0) {
        text = Py_NewRef(empty_str);
    } else if (cached && PyUnicode_GET_LENGTH(cached) == valueLength
               && memcmp(PyUnicode_1BYTE_DATA(cached), value, (size_t)valueLength) == 0) {
        // The cached str is Latin-1 (1-byte kind), like every decoded value: same bytes,
        // same text. str is immutable, so one object may sit in many environs.
        text = Py_NewRef(cached);
    } else {
        text = PyUnicode_DecodeLatin1(value, valueLength, NULL);
        if (text && slot && slot->caches_value && valueLength <= HEADER_VALUE_CACHE_MAX) {
            Py_XSETREF(slot->value, Py_NewRef(text));
        }
    }
    if (!text) {
        Py_DECREF(key);
        return -1;
    }
    // One lookup for the common case, a field seen once: SetDefault inserts it. Whether it did
    // shows in the size (the value may be the shared empty string either way).
    Py_ssize_t size = PyDict_GET_SIZE(environ);
    PyObject *existing = PyDict_SetDefault(environ, key, text);  // borrowed
    int rc = 0;
    if (!existing) {
        rc = -1;
    } else if (PyDict_GET_SIZE(environ) == size) {
        // RFC 9110 §5.3: repeated fields combine with commas; cookies with "; " (RFC 6265 §5.4).
        PyObject *joined = PyUnicode_Concat(existing, is_cookie ? cookie_separator : comma_separator);
        if (joined) PyUnicode_Append(&joined, text);
        rc = joined ? PyDict_SetItem(environ, key, joined) : -1;
        Py_XDECREF(joined);
    }
    Py_DECREF(text);
    Py_DECREF(key);
    return rc;
}
