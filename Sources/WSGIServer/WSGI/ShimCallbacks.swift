import CPythonShim

/// The Swift functions the C shim calls back into; registered once when Python starts.
enum ShimCallbacks {
    static let table = YPyCallbacks(
        read_body: { context, buffer, capacity in
            WSGIInput.read(RequestContext.from(context), into: buffer, capacity: capacity)
        },
        write_body: { context, bytes, length in
            StartResponse.write(RequestContext.from(context), bytes: bytes, length: length)
        },
        log_error_line: { line, length in
            ErrorsStream.log(line, length: length)
        }
    )
}
