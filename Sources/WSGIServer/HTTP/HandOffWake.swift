import Reactor

/// Wakes the handler's threads once per batch of events for the requests queued during it
/// (`RequestHandler.enqueue`), so a batch of parsed requests costs one wake-up rather than
/// one per request, and the server thread is not preempted by a woken worker between two
/// requests of the same batch.
final class HandOffWake: LoopTask, @unchecked Sendable {
    // @unchecked Sendable: created, scheduled and run on the server thread only.
    private let handler: RequestHandler
    private var scheduled = false

    init(handler: RequestHandler) {
        self.handler = handler
    }

    /// A request was queued: make sure the wake-up runs after the current batch.
    func schedule(on loop: EventLoop) {
        guard !scheduled else { return }
        scheduled = true
        loop.deferTask(self)
    }

    func runOnLoop() {
        scheduled = false
        handler.wakeForQueued()
    }
}
