/// A simulated file: its size, its "disk" contents, and which of its pages are in the page cache.
struct SimFile {
    let id: Int
    let name: String
    var sizeBytes: UInt64
    /// Shared anonymous memory (shmem): created zero-filled in the cache, never read from disk.
    let isShmem: Bool
    /// Page index → frame, for pages in the page cache (`address_space.i_pages`).
    var cached: [Int: Int] = [:]
    /// Page index → bytes on disk; absent = zeros.
    var disk: [Int: [UInt8]] = [:]

    var pageCount: Int { Int((sizeBytes + Page.size - 1) >> Page.shift) }
}

/// What the page cache knows about one of its frames.
struct CachePage {
    var fileID: Int
    var index: Int
    var isDirty: Bool
    /// Insertion sequence number, to tell a stale LRU slot from a reused frame.
    var sequence: UInt64
}

/// The page cache: files by name, cached frames, and an insertion-ordered LRU for reclaim.
struct PageCache {
    var files: [SimFile] = []
    var fileByName: [String: Int] = [:]
    /// Frame → cache page; the frame holds one reference for the cache.
    var pages: [Int: CachePage] = [:]
    /// Reclaim order (oldest first): (frame, sequence); stale slots are skipped.
    var lru: [(pfn: Int, sequence: UInt64)] = []
    var lruHead = 0
    var nextSequence: UInt64 = 0
    var dirtyCount = 0
    var shmemCount = 0
    /// Pages held as "disk" contents, and the bytes of file names (host memory, see `hostBytes`).
    private(set) var diskPages = 0
    private(set) var nameBytes = 0

    mutating func file(named name: String, sizeBytes: UInt64, isShmem: Bool = false) -> Int {
        if let id = fileByName[name] {
            if sizeBytes > files[id].sizeBytes { files[id].sizeBytes = sizeBytes }
            return id
        }
        let id = files.count
        files.append(SimFile(id: id, name: name, sizeBytes: sizeBytes, isShmem: isShmem))
        nameBytes += name.utf8.count
        if !isShmem { fileByName[name] = id }
        return id
    }

    /// Stores a page of a file on "disk".
    mutating func setDisk(_ fileID: Int, _ index: Int, _ bytes: [UInt8]) {
        if files[fileID].disk.updateValue(bytes, forKey: index) == nil { diskPages += 1 }
    }

    mutating func add(pfn: Int, fileID: Int, index: Int) {
        nextSequence += 1
        pages[pfn] = CachePage(fileID: fileID, index: index, isDirty: false, sequence: nextSequence)
        files[fileID].cached[index] = pfn
        lru.append((pfn, nextSequence))
        if files[fileID].isShmem { shmemCount += 1 }
    }

    mutating func remove(pfn: Int) {
        guard let page = pages.removeValue(forKey: pfn) else { return }
        files[page.fileID].cached[page.index] = nil
        if page.isDirty { dirtyCount -= 1 }
        if files[page.fileID].isShmem { shmemCount -= 1 }
    }

    mutating func markDirty(pfn: Int) {
        guard var page = pages[pfn], !page.isDirty else { return }
        page.isDirty = true
        pages[pfn] = page
        dirtyCount += 1
    }

    mutating func markClean(pfn: Int) {
        guard var page = pages[pfn], page.isDirty else { return }
        page.isDirty = false
        pages[pfn] = page
        dirtyCount -= 1
    }

    /// Drops stale LRU slots from the front when they pile up.
    mutating func compactLRU() {
        if lruHead > 4096 && lruHead * 2 > lru.count {
            lru.removeFirst(lruHead)
            lruHead = 0
        }
    }
}
