import CProcessShim

/// A wait(2) status in words, for the one log line each worker death gets.
struct ExitStatus: Equatable, CustomStringConvertible {
    let raw: Int32

    var exitCode: Int32? { CProc_exited(raw) != 0 ? CProc_exit_status(raw) : nil }
    var signal: Int32? { CProc_signaled(raw) != 0 ? CProc_term_signal(raw) : nil }

    /// "exited with status 1", "was killed by SIGKILL", "was killed by SIGSEGV (core dumped)".
    var description: String {
        if let code = exitCode { return "exited with status \(code)" }
        if let sig = signal {
            return "was killed by \(Self.signalName(sig))\(CProc_core_dumped(raw) != 0 ? " (core dumped)" : "")"
        }
        return "ended with wait status \(raw)"
    }

    static func signalName(_ sig: Int32) -> String {
        guard let abbrev = CProc_signal_abbrev(sig) else { return "signal \(sig)" }
        return "SIG" + String(cString: abbrev)
    }
}
