import CProcessShim

/// What `ps` and `top` show for a process: the command line (`ps -f`, `ps aux`) and the short
/// name (`ps -e`, `top`, /proc/PID/comm, 15 bytes).
enum ProcessTitle {
    /// The command line becomes `title` (cut to the length of the original command line, which
    /// is the memory there is); the short name becomes `name`.
    static func set(_ title: String, name: String) {
        title.withCString { _ = CProc_set_title($0) }
        name.withCString { CProc_set_name($0) }  // the kernel keeps the first 15 bytes
    }
}
