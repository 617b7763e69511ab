import Testing
@testable import ProcFS

@Test func placeholderProcFS() {}
