import Testing
@testable import WSGIServer

struct ExitStatusTests {
    @Test(arguments: [
        (Int32(0), "exited with status 0"),
        (Int32(3 << 8), "exited with status 3"),
        (Int32(9), "was killed by SIGKILL"),
        (Int32(15), "was killed by SIGTERM"),
        (Int32(11 | 0x80), "was killed by SIGSEGV (core dumped)"),
    ])
    func describesWaitStatus(_ raw: Int32, _ text: String) {
        #expect(ExitStatus(raw: raw).description == text)
    }
}
