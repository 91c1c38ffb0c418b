/// A scrape in the Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` for
/// each family, counters ending in `_total`, the duration histogram with cumulative `le` buckets
/// in seconds, `_sum` and `_count`.
enum MetricsText {
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// `sample`: counters of every worker, live or exited, and gauges of the live ones.
    /// `workers`: live worker processes; `workerRestarts`: unexpected deaths the supervisor
    /// replaced.
    static func render(_ sample: MetricsSample, workers: Int, workerRestarts: UInt64) -> String {
        var out = ""
        out.reserveCapacity(2048)
        family(&out, "yimmo_requests_total", "counter",
               "HTTP responses sent, by status class (the responses the access log logs, the server's own 4xx included).")
        for (i, name) in MetricsSample.statusClasses.enumerated() where i < 5 || sample.responses[i] > 0 {
            out += "yimmo_requests_total{class=\"\(name)\"} \(sample.responses[i])\n"
        }
        family(&out, "yimmo_request_duration_seconds", "histogram",
               "Time from the first byte of a request to the last byte of its response.")
        var cumulative: UInt64 = 0
        for (i, count) in sample.durationBuckets.enumerated() {
            cumulative &+= count
            let bound = i < MetricsSample.durationBounds.count ? seconds(MetricsSample.durationBounds[i]) : "+Inf"
            out += "yimmo_request_duration_seconds_bucket{le=\"\(bound)\"} \(cumulative)\n"
        }
        out += "yimmo_request_duration_seconds_sum \(seconds(sample.durationSumMicroseconds))\n"
        out += "yimmo_request_duration_seconds_count \(cumulative)\n"
        gauge(&out, "yimmo_requests_in_flight", "Requests received and not yet fully answered.", sample.requestsInFlight)
        gauge(&out, "yimmo_connections_open", "Open client connections.", sample.connectionsOpen)
        gauge(&out, "yimmo_queue_depth", "Requests waiting for a free worker thread.", sample.queueDepth)
        gauge(&out, "yimmo_workers", "Live worker processes.", workers)
        family(&out, "yimmo_worker_restarts_total", "counter",
               "Worker processes that died unexpectedly (crash, signal, --timeout) and were replaced.")
        out += "yimmo_worker_restarts_total \(workerRestarts)\n"
        return out
    }

    /// Microseconds as decimal seconds, exact and without trailing zeros: 2500 → "0.0025",
    /// 1000000 → "1", 1234567 → "1.234567".
    static func seconds(_ microseconds: UInt64) -> String {
        let whole = microseconds / 1_000_000
        let fraction = microseconds % 1_000_000
        guard fraction > 0 else { return String(whole) }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 6 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }

    private static func family(_ out: inout String, _ name: String, _ type: String, _ help: String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    private static func gauge(_ out: inout String, _ name: String, _ help: String, _ value: Int) {
        family(&out, name, "gauge", help)
        out += "\(name) \(value)\n"
    }
}
