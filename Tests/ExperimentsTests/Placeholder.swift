import Testing
@testable import Experiments

@Test func placeholderExperiments() {}
