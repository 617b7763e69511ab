import Testing
@testable import MMU

@Test func placeholderMMU() {}
