/// Gives back what a handler lent with a borrowed body; called once per body, from the server
/// thread or whichever thread drops it, never with any lock of the exchange held.
public protocol BodyReleaser: AnyObject, Sendable {
    func release(_ token: OpaquePointer)
}

/// A response body the server thread writes straight from the handler's memory instead of a
/// copy (a large `bytes` object): `base` stays valid until `releaser.release(token)`.
struct BorrowedBody: @unchecked Sendable {
    // @unchecked Sendable: the bytes behind `base` are immutable while lent, and exactly one
    // side (exchange, then connection) holds the body at a time.
    let base: UnsafeRawPointer
    let count: Int
    var offset = 0
    let token: OpaquePointer
    let releaser: BodyReleaser

    func release() {
        releaser.release(token)
    }
}
