#if canImport(Glibc)
import Glibc
#endif

/// The worker threads and the queue that feeds them.
final class WorkerPool: Sendable {
    private let queue = ExchangeQueue()
    private let releases = PythonReleaseQueue()
    private let threads: [WorkerThread]

    /// Starts `configuration.threads` workers running `application` (borrowed, kept alive by the
    /// caller for the pool's life).
    init(application: OpaquePointer, configuration: WSGIConfiguration) {
        var threads: [WorkerThread] = []
        for index in 0..<configuration.threads {
            let worker = Worker(
                index: index, application: application, queue: queue, releases: releases,
                configuration: configuration)
            threads.append(WorkerThread(worker))
        }
        self.threads = threads
    }

    /// Hands an exchange to the next free worker; false once shut down.
    func submit(_ exchange: HTTPExchange, wake: Bool = true) -> Bool {
        queue.push(exchange, wake: wake)
    }

    /// After `submit(_:wake: false)`: wakes idle workers for what is queued.
    func wakeForQueued() {
        queue.wakeForQueued()
    }

    /// `--metrics-bind`: the queue's length goes to the worker's scoreboard slot.
    func publishQueueDepth(to slot: ScoreboardSlot) {
        queue.publishDepth(to: slot)
    }

    /// Lets the workers finish what is queued, then joins them.
    func shutdown() {
        queue.close()
        for thread in threads { thread.join() }
    }
}

/// A pthread running one Worker. pthread rather than Foundation's Thread: a plain C entry
/// point, a chosen stack size, and nothing else between the thread and Python.
private final class WorkerThread: Sendable {
    private let thread: pthread_t

    /// Python code recurses deeply (template engines, ORMs); match the main thread's 8 MiB.
    private static let stackSize = 8 << 20

    init(_ worker: Worker) {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, Self.stackSize)
        defer { pthread_attr_destroy(&attributes) }
        var thread = pthread_t()
        let argument = Unmanaged.passRetained(worker).toOpaque()  // retained: released by the thread
        let status = pthread_create(&thread, &attributes, workerThreadMain, argument)
        precondition(status == 0, "pthread_create failed: \(status)")
        self.thread = thread
    }

    func join() {
        pthread_join(thread, nil)
    }
}

/// A named function, not a closure literal: see PLATFORM.md on closures handed to pthread_create.
private func workerThreadMain(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let worker = Unmanaged<Worker>.fromOpaque(argument!).takeRetainedValue()  // balances passRetained
    worker.run()
    return nil
}
