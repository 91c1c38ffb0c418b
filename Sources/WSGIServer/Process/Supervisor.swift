#if canImport(Glibc)
import Glibc
#endif
import CProcessShim
import Reactor

/// The parent of every worker process, and nothing else: it binds the listening sockets, forks
/// `processes` workers that all accept on them, and keeps that many alive.
///
/// Fork safety: the supervisor never starts a thread and never initialises Python, so each fork
/// copies a single-threaded process with no interpreter; a worker starts its own threads and its
/// own interpreter after the fork (no PyOS_*Fork hooks needed). Signals are not handled with
/// handlers: they stay blocked and the one loop takes them with sigtimedwait, which also gives
/// it a one-second tick for the watchdog and the back-off timers.
///
/// - SIGCHLD: reap; a worker that died is replaced (one log line with the cause), at once, or
///   with exponential back-off while it keeps dying at start (`BackoffPolicy`).
/// - SIGTERM, SIGINT: SIGTERM to every worker, which stops accepting and finishes what is in
///   flight; whatever is left after `gracefulTimeout` is killed; exit 0. A second SIGINT kills
///   at once.
/// - SIGHUP: reload: a new generation of workers starts (importing the application afresh);
///   once all of them accept connections, the old ones get SIGTERM and drain. The listening
///   sockets stay open in the supervisor throughout, so no connection is refused.
/// - SIGTTIN / SIGTTOU: one worker more / fewer.
/// - SIGUSR1 (from workers): a worker became ready, or reached --max-requests and is draining
///   (its replacement starts at once).
/// - `--reload`: a changed source file (`sourceWatcher`, asked at each tick) reloads as SIGHUP.
///
/// With `--metrics-bind` the supervisor also answers Prometheus scrapes (`MetricsServer`): it
/// waits in poll(2) on a signalfd for the same signals plus the metrics sockets, with the same
/// time-outs, and sums the workers' scoreboard counters, keeping those of exited workers.
///
/// The listening sockets are shared, not SO_REUSEPORT copies: with SO_REUSEPORT each worker has
/// its own accept queue, and connections queued on a worker that stops are reset. With one
/// queue, a stopping worker simply stops taking from it.
public final class Supervisor {
    /// Exit status of a worker that could not load the application. Before any worker has ever
    /// been ready this is a configuration error, and the supervisor stops with it rather than
    /// retrying forever; later (a reload with a broken application) it is retried with back-off
    /// while the old workers keep serving.
    public static let applicationLoadFailedStatus: Int32 = 3

    public let listeners: [ListeningSocket]
    private let configuration: ServerConfiguration
    private let pidFile: PidFile?
    private let scoreboard: Scoreboard
    private let policy = BackoffPolicy()
    private let pid = getpid()
    private var signals = sigset_t()
    private var childMask = sigset_t()

    private var desired: Int
    private var generation = 1
    private var workers: [pid_t: WorkerRecord] = [:]
    /// Worker number → failed starts in a row.
    private var failures: [Int: Int] = [:]
    /// Worker number → earliest restart (monotonic ms) while backing off.
    private var restartAt: [Int: Int64] = [:]
    private var everReady = false
    private var stopDeadline: Int64?
    private var exitStatus: Int32 = 0
    private var lastWatchdogCheck: Int64 = 0
    /// `--metrics-bind`: the endpoint, the counters of workers that exited, and the workers
    /// that died unexpectedly and were replaced.
    private let metrics: MetricsServer?
    private var exitedWorkersMetrics = MetricsSample()
    private var workerRestarts: UInt64 = 0

    /// `--reload`: set before `run`; nil watches nothing.
    public var sourceWatcher: SourceWatcher?

    /// Binds every address and writes the pid file. Call before any thread exists. Throws with
    /// a one-line message (the caller logs it as FATAL and exits).
    public init(configuration: ServerConfiguration) throws(SupervisorError) {
        self.configuration = configuration
        desired = max(1, configuration.processes)
        // The pid file first: it refuses a second server before that one touches any address,
        // and it exists by the time the first address answers.
        let pidFile = try configuration.pidFile.map { path throws(SupervisorError) in try PidFile(path: path) }
        self.pidFile = pidFile
        var opened: [ListeningSocket] = []
        let binds = configuration.binds.isEmpty
            ? [BindSpec.tcp(host: configuration.host, port: configuration.port)]
            : configuration.binds
        for spec in binds {
            do {
                opened += try Listener.open(spec, backlog: configuration.backlog)
            } catch {
                Self.close(opened)
                pidFile?.remove()
                throw SupervisorError(error.message)
            }
        }
        listeners = opened
        // Room for a full second generation during a reload, and then some.
        guard let board = Scoreboard(slots: max(64, desired * 4)) else {
            Self.close(opened)
            pidFile?.remove()
            throw SupervisorError("cannot map the shared scoreboard: \(String(cString: strerror(errno)))")
        }
        scoreboard = board
        do {
            metrics = try configuration.metricsBind.map { spec throws(BindSpecError) in try MetricsServer(spec) }
        } catch {
            Self.close(opened)
            pidFile?.remove()
            throw SupervisorError("metrics endpoint: \(error.message)")
        }
    }

    /// The addresses, as logged: "http://0.0.0.0:8081, unix:/run/app.sock".
    public var addresses: String {
        listeners.map(\.displayName).joined(separator: ", ")
    }

    /// Forks the workers and supervises them until a stop signal; never returns. `workerMain`
    /// runs in each worker process (after the fork, with the signal mask of the caller).
    public func run(workerMain: (WorkerContext) -> Never) -> Never {
        blockSignals()
        startMetrics()
        Log.notice("supervisor: \(desired) worker process(es), --timeout \(configuration.requestTimeout.map { "\($0) s" } ?? "off"), --max-requests \(configuration.maxRequests == 0 ? "off" : String(configuration.maxRequests))")
        while true {
            let now = monotonicMilliseconds()
            if stopDeadline == nil {
                reconcile(now: now, workerMain: workerMain)
            }
            let sig = waitForSignal(timeout: nextTimeout(now: monotonicMilliseconds()))
            switch sig {
            case SIGTERM, SIGINT:
                beginStop(signal: sig)
            case SIGHUP:
                reload(because: "SIGHUP: reloading")
            case SIGTTIN:
                desired += 1
                Log.notice("SIGTTIN: now \(desired) worker process(es)")
            case SIGTTOU:
                if desired > 1 {
                    desired -= 1
                    Log.notice("SIGTTOU: now \(desired) worker process(es)")
                }
            default:
                break  // SIGCHLD, SIGUSR1, time-out: the checks below cover them
            }
            // The scoreboard first: a worker that announced recycling may already have exited,
            // and its exit must be read as the recycling it is.
            readScoreboard()
            reap(workerMain: workerMain)
            let after = monotonicMilliseconds()
            if after - lastWatchdogCheck >= 1000 || sig == SIGUSR1 {
                lastWatchdogCheck = after
                watchdog(now: after)
            }
            enforceKillDeadlines(now: after)
            if stopDeadline == nil, let change = sourceWatcher?.check(now: after) {
                reload(because: "reload: \(change)")
            }
            if let deadline = stopDeadline {
                if workers.isEmpty { finish() }
                if after >= deadline { killRemainingAndFinish() }
            } else {
                retireOldWorkers(now: after)
            }
        }
    }

    // MARK: Signals

    private func blockSignals() {
        sigemptyset(&signals)
        for sig in [SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGTTIN, SIGTTOU] { sigaddset(&signals, sig) }
        pthread_sigmask(SIG_BLOCK, &signals, &childMask)
        // Workers keep the watcher's signals blocked (its thread takes them with sigwait) and
        // get everything else back as it was.
        for sig in SignalWatcher.watched { sigaddset(&childMask, sig) }
    }

    /// The next signal, or 0 after `timeout` ms; with `--metrics-bind`, scrapes are answered
    /// while waiting.
    private func waitForSignal(timeout: Int32) -> Int32 {
        if let metrics { return metrics.wait(upTo: timeout) }
        return CProc_wait_signal(&signals, timeout)
    }

    private func nextTimeout(now: Int64) -> Int32 {
        var deadline = now + 1000
        for due in restartAt.values { deadline = min(deadline, due) }
        if let stop = stopDeadline { deadline = min(deadline, stop) }
        if stopDeadline == nil, let watcher = sourceWatcher { deadline = min(deadline, watcher.nextDeadline(now: now)) }
        for record in workers.values {
            if let kill = record.killDeadline, !record.killed { deadline = min(deadline, kill) }
        }
        return Int32(clamping: max(0, deadline - now))
    }

    // MARK: Starting workers

    /// Starts whatever worker of the current generation is missing and not backing off, and
    /// stops the ones past `desired` (after SIGTTOU).
    private func reconcile(now: Int64, workerMain: (WorkerContext) -> Never) {
        for (pid, record) in workers where record.generation == generation && !record.retiring && record.number > desired {
            retire(pid, reason: "fewer workers wanted", now: now)
        }
        for number in 1...desired where current(number) == nil {
            if let due = restartAt[number], due > now { continue }
            let wasBackingOff = restartAt.removeValue(forKey: number) != nil
            if let child = spawn(number: number, workerMain: workerMain) {
                Log.info("worker \(number) started (pid \(child))\(wasBackingOff ? " after back-off" : "")\(generation > 1 ? ", generation \(generation)" : "")")
            }
        }
    }

    /// The live worker that currently holds `number` in the current generation.
    private func current(_ number: Int) -> WorkerRecord? {
        workers.values.first { $0.number == number && $0.generation == generation && !$0.retiring }
    }

    private func spawn(number: Int, workerMain: (WorkerContext) -> Never) -> pid_t? {
        let used = Set(workers.values.map(\.slotIndex))
        guard let slotIndex = (0..<scoreboard.count).first(where: { !used.contains($0) }) else {
            Log.warning("no free scoreboard slot for worker \(number) (too many workers still draining); retrying in 1 s")
            restartAt[number] = monotonicMilliseconds() + 1000
            return nil
        }
        let slot = scoreboard[slotIndex]
        slot.reset()
        var limit = configuration.maxRequests
        if limit > 0 && configuration.maxRequestsJitter > 0 {
            limit += Int.random(in: 0...configuration.maxRequestsJitter)
        }
        let context = WorkerContext(
            number: number, generation: generation, processes: desired, listeners: listeners,
            maxRequests: limit, slot: slot, supervisorPID: pid, watchdog: configuration.requestTimeout != nil,
            metrics: metrics != nil)
        let child = CProc_fork()
        if child == 0 {
            becomeWorker(context, workerMain: workerMain)
        }
        guard child > 0 else {
            Log.error("fork for worker \(number): \(String(cString: strerror(errno))); retrying in 1 s")
            restartAt[number] = monotonicMilliseconds() + 1000
            return nil
        }
        workers[child] = WorkerRecord(
            pid: child, number: number, generation: generation, slotIndex: slotIndex, startedAt: monotonicMilliseconds())
        return child
    }

    /// In the child, right after fork.
    private func becomeWorker(_ context: WorkerContext, workerMain: (WorkerContext) -> Never) -> Never {
        metrics?.closeInChild()
        // If the supervisor dies (even by SIGKILL), the worker drains and exits instead of
        // serving on unsupervised. The check after it closes the race with a parent that
        // died before the request was made.
        _ = CProc_set_parent_death_signal(SIGTERM)
        if getppid() != pid { _exit(0) }
        sourceWatcher?.closeAfterFork()
        ProcessTitle.set("yimmo-wsgi: worker \(context.number)", name: "yimmo-worker-\(context.number)")
        pthread_sigmask(SIG_SETMASK, &childMask, nil)
        workerMain(context)
    }

    // MARK: Deaths

    private func reap(workerMain: (WorkerContext) -> Never) {
        while true {
            var status: Int32 = 0
            let child = waitpid(-1, &status, WNOHANG)
            if child < 0 && errno == EINTR { continue }
            guard child > 0 else { return }
            guard let record = workers.removeValue(forKey: child) else { continue }
            if metrics != nil {
                // Before a new worker's reset of the slot: the totals never go backwards.
                exitedWorkersMetrics.addCounters(of: scoreboard[record.slotIndex].readMetrics())
            }
            workerExited(record, status: ExitStatus(raw: status), workerMain: workerMain)
        }
    }

    private func workerExited(_ record: WorkerRecord, status: ExitStatus, workerMain: (WorkerContext) -> Never) {
        var record = record
        if !record.retiring && scoreboard[record.slotIndex].state == .recycling {
            // Announced and finished between two reads of the scoreboard.
            noteRecycling(&record)
        }
        let now = monotonicMilliseconds()
        let lifetime = Double(now - record.startedAt) / 1000
        let name = record.name(currentGeneration: generation)
        let served = scoreboard[record.slotIndex].served
        let life = "after \(Self.seconds(lifetime)) and \(served) request(s)"
        if stopDeadline != nil {
            Log.info("\(name) \(status) \(life)")
            return
        }
        if let reason = record.killReason {
            workerRestarts += 1
            Log.error("\(name) \(status) (\(reason)) \(life)")
            return
        }
        if record.retiring {
            Log.info("\(name) \(status) \(life), as asked")
            return
        }
        if record.generation != generation {
            // An old worker a reload has not retired yet: the new generation takes its place.
            workerRestarts += 1
            Log.error("\(name) \(status) \(life); generation \(generation) replaces it")
            return
        }
        if status.exitCode == Self.applicationLoadFailedStatus && !record.ready && !everReady {
            Log.error("\(name) could not load the application (exit status \(Self.applicationLoadFailedStatus)); stopping")
            exitStatus = Self.applicationLoadFailedStatus
            beginStop(signal: nil)
            return
        }
        workerRestarts += 1
        let number = record.number
        let failedStart = policy.isFailedStart(lifetime: lifetime, becameReady: record.ready)
        let count = failedStart ? (failures[number] ?? 0) + 1 : 0
        failures[number] = count
        let delay = policy.delay(afterFailedStarts: count)
        let streak = count > 1 ? ", \(count) failed starts in a row" : ""
        if delay == 0, let child = spawn(number: number, workerMain: workerMain) {
            Log.error("\(name) \(status) \(life)\(streak); replaced by pid \(child)")
        } else {
            let wait = max(delay, 1)
            restartAt[number] = now + Int64(wait * 1000)
            Log.error("\(name) \(status) \(life)\(streak); restarting it in \(Self.seconds(wait))")
        }
    }

    // MARK: Scoreboard, watchdog, reload

    private func readScoreboard() {
        for (pid, record) in workers {
            let slot = scoreboard[record.slotIndex]
            switch slot.state {
            case .ready where !record.ready:
                workers[pid]?.ready = true
                everReady = true
                Log.info("\(record.name(currentGeneration: generation)) is ready")
            case .recycling where !record.retiring:
                var updated = record
                noteRecycling(&updated)
                workers[pid] = updated
            default:
                break
            }
        }
    }

    private func noteRecycling(_ record: inout WorkerRecord) {
        record.ready = true
        record.retiring = true
        record.killDeadline = monotonicMilliseconds() + graceMilliseconds
        failures[record.number] = 0
        Log.notice("\(record.name(currentGeneration: generation)) reached --max-requests (\(scoreboard[record.slotIndex].served) served) and drains; starting its replacement")
    }

    /// `--timeout`: kill a worker whose oldest request in flight has run too long.
    private func watchdog(now: Int64) {
        guard let timeout = configuration.requestTimeout, stopDeadline == nil else { return }
        let limit = Int64(timeout * 1000)
        for (pid, record) in workers where !record.killed {
            guard let request = scoreboard[record.slotIndex].oldestRequest(), now - request.start > limit else { continue }
            Log.error("\(record.name(currentGeneration: generation)): request \"\(request.line)\" has run \(Self.seconds(Double(now - request.start) / 1000)), longer than --timeout \(Self.seconds(timeout)); killing the worker")
            kill(pid, SIGKILL)
            workers[pid]?.killed = true
            workers[pid]?.retiring = true
            workers[pid]?.killReason = "request timeout"
        }
    }

    /// SIGHUP or a changed source file. The new generation starts at once even when the last
    /// one kept failing: a reload is a new attempt (the fix, with --reload), so the back-off
    /// of the failed generation does not delay it.
    private func reload(because trigger: String) {
        guard stopDeadline == nil else { return }
        generation += 1
        restartAt.removeAll()
        failures.removeAll()
        Log.notice("\(trigger): starting generation \(generation) (\(desired) worker(s)); the old workers stop once it is ready")
    }

    /// After a reload: once every worker of the new generation accepts connections, the old
    /// ones are told to drain. Old workers that never became ready are stopped right away.
    private func retireOldWorkers(now: Int64) {
        let old = workers.filter { $0.value.generation < generation && !$0.value.retiring }
        guard !old.isEmpty else { return }
        let newReady = (1...desired).allSatisfy { current($0)?.ready == true }
        var retired = 0
        for (pid, record) in old where newReady || !record.ready {
            retire(pid, reason: "reload", now: now)
            retired += 1
        }
        if newReady && retired > 0 {
            Log.notice("reload: generation \(generation) is ready; \(retired) old worker(s) drain and stop")
        }
    }

    private func retire(_ pid: pid_t, reason: String, now: Int64) {
        kill(pid, SIGTERM)
        workers[pid]?.retiring = true
        workers[pid]?.killDeadline = now + graceMilliseconds
        Log.debug("SIGTERM to pid \(pid): \(reason)")
    }

    /// A draining worker gets the graceful time-out and 5 s more (its own timer should end it).
    private var graceMilliseconds: Int64 { Int64(configuration.gracefulTimeout * 1000) + 5000 }

    private func enforceKillDeadlines(now: Int64) {
        for (pid, record) in workers where !record.killed {
            guard let deadline = record.killDeadline, now >= deadline else { continue }
            Log.warning("\(record.name(currentGeneration: generation)) did not stop within the graceful time-out; killing it")
            kill(pid, SIGKILL)
            workers[pid]?.killed = true
        }
    }

    // MARK: Stopping

    private func beginStop(signal sig: Int32?) {
        if stopDeadline != nil {
            if sig == SIGINT {
                Log.notice("SIGINT again: killing \(workers.count) worker(s) now")
                killRemainingAndFinish()
            }
            return
        }
        stopDeadline = monotonicMilliseconds() + Int64(configuration.gracefulTimeout * 1000)
        let what = sig.map { ExitStatus.signalName($0) + ":" } ?? "stopping:"
        Log.notice("\(what) stopping \(workers.count) worker(s) gracefully (up to \(Self.seconds(configuration.gracefulTimeout)))")
        for pid in workers.keys { kill(pid, SIGTERM) }
        restartAt.removeAll()
    }

    private func killRemainingAndFinish() -> Never {
        if !workers.isEmpty {
            Log.warning("graceful time-out: killing \(workers.count) worker(s) still running")
        }
        for pid in workers.keys { kill(pid, SIGKILL) }
        for pid in workers.keys {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        workers.removeAll()
        finish()
    }

    private func finish() -> Never {
        Self.close(listeners)
        metrics?.close()
        pidFile?.remove()
        Log.notice("stopped")
        exit(exitStatus)
    }

    // MARK: Metrics

    private func startMetrics() {
        guard let metrics else { return }
        do {
            // unowned: the supervisor lives until the process exits (finish() never returns).
            try metrics.start(signals: signals) { [unowned self] in self.metricsText() }
        } catch {
            Log.fatal("metrics endpoint: \(error)")
            exitStatus = 1
            finish()
        }
        Log.notice("metrics for Prometheus at \(metrics.listener.displayName)/metrics")
    }

    /// Counters of every worker that ever ran plus gauges of the live ones, as Prometheus text.
    private func metricsText() -> String {
        var total = exitedWorkersMetrics
        for record in workers.values {
            let sample = scoreboard[record.slotIndex].readMetrics()
            total.addCounters(of: sample)
            total.addGauges(of: sample)
        }
        return MetricsText.render(total, workers: workers.count, workerRestarts: workerRestarts)
    }

    private static func close(_ sockets: [ListeningSocket]) {
        for socket in sockets {
            closeDescriptor(socket.fd)
            if let path = socket.ownedPath { unlink(path) }
        }
    }

    private static func seconds(_ value: Double) -> String {
        let tenths = (value * 10).rounded() / 10
        return "\(tenths) s"
    }
}

/// A supervisor that cannot start: one FATAL line, then exit.
public struct SupervisorError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

@available(*, unavailable)
extension Supervisor: Sendable {}
