import Testing
@testable import MemdServer

@Test func placeholderMemdServer() {}
