import JSONRPC
import MemdProtocol

extension FuzzTarget {
    /// Every method memd answers, by its descriptor (FuzzTargetsTests checks the list
    /// against openrpc.json, so a new method cannot be left out of the params and results targets).
    public static let methods: [any MethodDescriptor.Type] = [
        DiscoverMethod.self, MeminfoMethod.self, MapsMethod.self, PageStatsMethod.self,
        RunExperimentMethod.self, UsageMethod.self, CgroupsMethod.self, WatchMethod.self, WatchStopMethod.self,
        SimCreateMethod.self, SimListMethod.self, SimDestroyMethod.self, SimSpawnMethod.self, SimMmapMethod.self,
        SimMunmapMethod.self, SimTouchMethod.self, SimReadMethod.self, SimWriteMethod.self, SimForkMethod.self,
        SimExitMethod.self, SimulateTranslationMethod.self, WorkingSetMethod.self, WorkingSetStopMethod.self,
        PageFlagsMethod.self,
    ]

    static func method(named name: String) -> (any MethodDescriptor.Type)? { methods.first { $0.name == name } }
}
