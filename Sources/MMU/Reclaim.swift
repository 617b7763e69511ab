extension Machine {
    /// Direct reclaim (`shrink_page_list`): frees up to `target` page-cache pages that no process maps,
    /// clean ones first (oldest first), then dirty ones after writing them back (pgpgout); then, with
    /// swap, private anonymous pages (`swapOut`). Shmem is not reclaimed. Returns the pages freed.
    @discardableResult
    func reclaim(target: Int) -> Int {
        var freed = 0
        for pass in 0..<2 {
            var i = cache.lruHead
            while i < cache.lru.count && freed < target {
                let (pfn, seq) = cache.lru[i]
                i += 1
                guard let page = cache.pages[pfn], page.sequence == seq else { continue }
                pgscanDirect += 1
                if cache.files[page.fileID].isShmem || memory.refcountOf(pfn) != 1 { continue }
                if page.isDirty {
                    if pass == 0 { continue }
                    cache.setDisk(page.fileID, page.index, memory.bytes(pfn))
                    cache.markClean(pfn: pfn)
                    pgpgout += Page.size >> 10
                }
                cache.remove(pfn: pfn)
                memory.release(pfn)
                pgstealFile += 1
                freed += 1
            }
        }
        if freed < target { freed += swapOut(target: target - freed) }
        while cache.lruHead < cache.lru.count {
            let (pfn, seq) = cache.lru[cache.lruHead]
            if let page = cache.pages[pfn], page.sequence == seq { break }
            cache.lruHead += 1
        }
        cache.compactLRU()
        return freed
    }

    /// Writes every dirty page-cache page back to disk (`sync`); returns the pages written.
    @discardableResult
    public func sync() throws(MMUError) -> Int {
        try checkAlive()
        var written = 0
        for pfn in cache.pages.keys.sorted() {
            guard let page = cache.pages[pfn], page.isDirty, !cache.files[page.fileID].isShmem else { continue }
            cache.setDisk(page.fileID, page.index, memory.bytes(pfn))
            cache.markClean(pfn: pfn)
            pgpgout += Page.size >> 10
            written += 1
        }
        return written
    }

    /// Drops clean, unmapped page cache (`echo 1 > /proc/sys/vm/drop_caches`); returns the pages freed.
    @discardableResult
    public func dropCaches() throws(MMUError) -> Int {
        try checkAlive()
        var freed = 0
        for pfn in cache.pages.keys.sorted() {
            guard let page = cache.pages[pfn], !page.isDirty, !cache.files[page.fileID].isShmem,
                memory.refcountOf(pfn) == 1
            else { continue }
            cache.remove(pfn: pfn)
            memory.release(pfn)
            freed += 1
        }
        return freed
    }
}
