// Method descriptors.
