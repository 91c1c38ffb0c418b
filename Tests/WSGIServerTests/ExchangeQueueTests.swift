import Testing
import TestSupport
@testable import WSGIServer

/// The server thread queues a batch of requests without waking anyone, then wakes the idle
/// workers once; these pin down that contract (a missed wake-up would hang a request).
struct ExchangeQueueTests {
    private func exchanges(_ count: Int) -> [HTTPExchange] {
        (0..<count).map { TestRequest(target: "/\($0)").exchange() }
    }

    @Test func popsInFIFOOrderAcrossGrowth() {
        let queue = ExchangeQueue()
        let all = exchanges(150)  // past the initial ring of 64, twice
        for exchange in all { #expect(queue.push(exchange, wake: false)) }
        for exchange in all { #expect(queue.pop() === exchange) }
    }

    @Test func deferredPushWakesAWaitingWorkerOnlyOnWakeForQueued() {
        let queue = ExchangeQueue()
        let popped = Counter()
        let worker = TestThread {
            if queue.pop() != nil { popped.increment() }
        }
        #expect(waitUntil(timeoutMilliseconds: 2000) { queue.waitingWorkers == 1 })
        #expect(queue.push(exchanges(1)[0], wake: false))
        // Nothing signalled the condition: the worker is still asleep in pop().
        #expect(queue.waitingWorkers == 1)
        queue.wakeForQueued()
        #expect(worker.join())
        #expect(popped.current == 1)
    }

    @Test func wakeForQueuedWakesOneWorkerPerQueuedExchange() {
        let queue = ExchangeQueue()
        let popped = Counter()
        let workers = (0..<3).map { _ in
            TestThread {
                if queue.pop() != nil { popped.increment() }
            }
        }
        #expect(waitUntil(timeoutMilliseconds: 2000) { queue.waitingWorkers == 3 })
        for exchange in exchanges(2) { #expect(queue.push(exchange, wake: false)) }
        queue.wakeForQueued()
        #expect(waitUntil(timeoutMilliseconds: 2000) { popped.current == 2 })
        #expect(queue.waitingWorkers == 1, "the third worker keeps waiting: nothing is left for it")
        queue.close()
        for worker in workers { #expect(worker.join()) }
        #expect(popped.current == 2)
    }

    @Test func immediatePushWakesAWaitingWorker() {
        let queue = ExchangeQueue()
        let worker = TestThread { _ = queue.pop() }
        #expect(waitUntil(timeoutMilliseconds: 2000) { queue.waitingWorkers == 1 })
        #expect(queue.push(exchanges(1)[0]))
        #expect(worker.join())
    }

    @Test func closedQueueRefusesAndDrains() {
        let queue = ExchangeQueue()
        let queued = exchanges(2)
        for exchange in queued { #expect(queue.push(exchange, wake: false)) }
        queue.close()
        #expect(!queue.push(exchanges(1)[0]))
        #expect(queue.pop() === queued[0])
        #expect(queue.pop() === queued[1])
        #expect(queue.pop() == nil)
    }
}
