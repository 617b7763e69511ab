#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads a file to EOF a piece of whole lines at a time for one consumer, while a second thread
/// may read the next pieces ahead of it: the kernel's formatting of a large /proc file (maps,
/// smaps: most of a `maps` call's time) runs beside the consumer's parse of what came before.
///
/// Reading is one role, taken by whoever is free. The consumer (``forEachPiece(startingHelper:_:)``)
/// reads a piece itself whenever it has nothing to parse and nobody is reading; a helper
/// (``readAhead()``, on another thread) reads while a piece is empty. So the consumer never waits
/// for a helper that has not started — one queued behind other work may start late or never, and
/// then finds nothing to do — and with no helper it reads every piece itself, as a read loop would.
/// A line cut by a read waits for the next piece (a last line without `\n` comes at EOF); a piece
/// grows only for a line longer than itself.
public final class PieceReader: @unchecked Sendable {
    private var fd: Int32
    private let path: String
    private let pieceBytes: Int
    /// The ring of pieces (allocated when first read into) and the bytes of each that hold lines.
    private var pieces: [UnsafeMutableRawBufferPointer]
    private var counts: [Int]
    /// Pieces read, and pieces the consumer has parsed and given back: piece `n` lives in
    /// `pieces[n % pieces.count]`, and at most `pieces.count` are read and not yet parsed.
    private var read = 0
    private var parsed = 0
    private var isReading = false
    private var isAtEnd = false
    private var failure: ProcError?
    /// The consumer is done (the last piece parsed, or it stopped early): nobody reads any more.
    private var isClosed = false
    /// The start of a line the last read cut: it begins the next piece. Touched only by the reader
    /// of the moment (the mutex passes it on).
    private var cut: [UInt8] = []
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let changed = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    /// Takes `descriptor` (closed when the consumer is done); `pieces` of `pieceBytes` each.
    public init(descriptor: Int32, path: String, pieces: Int = 3, pieceBytes: Int = 128 * 1024) {
        fd = descriptor
        self.path = path
        self.pieceBytes = max(pieceBytes, 4096)
        self.pieces = Array(repeating: UnsafeMutableRawBufferPointer(start: nil, count: 0), count: max(pieces, 2))
        counts = Array(repeating: 0, count: max(pieces, 2))
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(changed, nil)
    }

    deinit {
        release()
        pthread_cond_destroy(changed)
        pthread_mutex_destroy(mutex)
        changed.deallocate()
        mutex.deallocate()
    }

    /// Hands `body` each piece in order (whole lines, valid during the call) until EOF. After the
    /// first read, if it filled its piece (the file is larger than one), calls `startingHelper`
    /// once: it may arrange for ``readAhead()`` to run on another thread. Returns once no read of
    /// this file is under way or can start, so the caller may judge what was read.
    public func forEachPiece(
        startingHelper: (() -> Void)? = nil,
        _ body: (UnsafeBufferPointer<UInt8>) throws(ProcError) -> Void
    ) throws(ProcError) {
        pthread_mutex_lock(mutex)
        defer {
            isClosed = true
            pthread_cond_broadcast(changed)
            while isReading { pthread_cond_wait(changed, mutex) }
            release()  // a helper that starts later reads nothing: no need to keep them for it
            pthread_mutex_unlock(mutex)
        }
        var isFirstRead = startingHelper != nil
        while true {
            if parsed < read {
                let slot = parsed % pieces.count
                let piece = UnsafeBufferPointer(
                    start: pieces[slot].baseAddress?.assumingMemoryBound(to: UInt8.self),
                    count: counts[slot]
                )
                pthread_mutex_unlock(mutex)
                do {
                    try body(piece)
                } catch {
                    pthread_mutex_lock(mutex)
                    throw error
                }
                pthread_mutex_lock(mutex)
                parsed += 1
                pthread_cond_broadcast(changed)
            } else if let failure {
                throw failure
            } else if isAtEnd {
                return
            } else if !isReading {
                let filled = readPiece()
                if isFirstRead, filled, let startingHelper {
                    isFirstRead = false
                    pthread_mutex_unlock(mutex)
                    startingHelper()
                    pthread_mutex_lock(mutex)
                }
                isFirstRead = false
            } else {
                pthread_cond_wait(changed, mutex)
            }
        }
    }

    /// Reads pieces ahead of the consumer while one is empty, until EOF, an error, or the
    /// consumer is done: what a second thread runs. The reads it made.
    @discardableResult
    public func readAhead() -> Int {
        var reads = 0
        pthread_mutex_lock(mutex)
        while !isClosed, !isAtEnd, failure == nil {
            if !isReading, read - parsed < pieces.count {
                _ = readPiece()
                reads += 1
            } else {
                pthread_cond_wait(changed, mutex)
            }
        }
        pthread_mutex_unlock(mutex)
        return reads
    }

    /// Closes the file and frees the pieces (nobody reads any more).
    private func release() {
        if fd >= 0 { close(fd) }
        fd = -1
        for index in pieces.indices {
            pieces[index].deallocate()
            pieces[index] = UnsafeMutableRawBufferPointer(start: nil, count: 0)
        }
    }

    /// Takes the reading role (the mutex held), reads the next piece without the mutex, publishes
    /// it. True if the read filled the piece's memory (more is likely to come).
    private func readPiece() -> Bool {
        isReading = true
        let slot = read % pieces.count
        var piece = pieces[slot]
        pthread_mutex_unlock(mutex)
        var filled = false
        let outcome = Result { () throws(ProcError) in try fill(&piece, filled: &filled) }
        pthread_mutex_lock(mutex)
        pieces[slot] = piece
        switch outcome {
        case .success(let (count, isLast)):
            if count > 0 {
                counts[slot] = count
                read += 1
            }
            isAtEnd = isLast
        case .failure(let error):
            failure = error
        }
        isReading = false
        pthread_cond_broadcast(changed)
        return filled
    }

    /// Reads into `piece` — after the line the last read cut — until less than a page of it is
    /// left (seq_file hands out one buffer of its own, a few KiB, per read(2)) or EOF: the bytes
    /// of whole lines it holds (all of it at EOF), and whether that was the end. `filled`: it
    /// stopped for want of room, so the file goes on.
    private func fill(_ piece: inout UnsafeMutableRawBufferPointer, filled: inout Bool) throws(ProcError) -> (Int, Bool)
    {
        if piece.baseAddress == nil { piece = .allocate(byteCount: pieceBytes, alignment: 16) }
        var count = cut.count
        if count > piece.count { grow(&piece, keeping: 0, to: count) }
        cut.withUnsafeBytes { piece.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: count) }
        cut.removeAll(keepingCapacity: true)
        var lines = 0  // the bytes up to the last line end seen
        while true {
            if piece.count - count < 4096 {
                if lines > 0 { break }
                grow(&piece, keeping: count, to: piece.count * 2)  // a line longer than the piece
            }
            let got = Glibc.read(fd, piece.baseAddress! + count, piece.count - count)
            if got < 0 {
                if errno == EINTR { continue }
                throw ProcFile.error(path, errno)
            }
            if got == 0 { return (count, true) }
            let start = count
            count += got
            let bytes = piece.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var end = count
            while end > start, bytes[end - 1] != 0x0A { end -= 1 }
            if end > start { lines = end }
        }
        filled = true
        let bytes = piece.baseAddress!.assumingMemoryBound(to: UInt8.self)
        cut.append(contentsOf: UnsafeBufferPointer(start: bytes + lines, count: count - lines))
        return (lines, false)
    }

    /// A larger `piece` (at least `bytes`), its first `kept` bytes copied.
    private func grow(_ piece: inout UnsafeMutableRawBufferPointer, keeping kept: Int, to bytes: Int) {
        let larger = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes, piece.count * 2), alignment: 16)
        if kept > 0 { larger.baseAddress!.copyMemory(from: piece.baseAddress!, byteCount: kept) }
        piece.deallocate()
        piece = larger
    }
}
