// The MMU simulator lives here (see shared/brief/simulator.md).
