/// wsgi.errors is a C type (Sources/CPythonShim/errorstream.c), one per worker, that collects
/// text into lines; each complete line arrives here, with the GIL released, for the server log.
enum ErrorsStream {
    static func log(_ line: UnsafePointer<CChar>?, length: Int) {
        guard let line else { return }
        let text = String(decoding: UnsafeRawBufferPointer(start: line, count: length), as: UTF8.self)
        Log.error("wsgi.errors: \(text)")
    }
}
