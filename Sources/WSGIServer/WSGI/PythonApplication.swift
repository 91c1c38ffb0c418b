import CPythonShim

/// The loaded WSGI callable. It lives as long as the process (workers borrow the pointer), so the
/// reference is never released.
final class PythonApplication: @unchecked Sendable {  // immutable; the object is only used with the GIL
    let object: OpaquePointer

    /// Takes ownership of a new reference.
    init(owning object: OpaquePointer) {
        self.object = object
    }
}
