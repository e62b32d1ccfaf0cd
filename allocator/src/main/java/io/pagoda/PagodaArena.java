package io.pagoda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * An {@link Arena} over a {@link PageAllocator}: segments are cut bump-pointer style from page
 * blocks the arena takes from the allocator, and closing the arena gives every block back at once.
 *
 * <p>The segments' scope is a JDK arena's, made with this one and closed with it, so the JDK's own
 * checks make every segment inaccessible after {@link #close()} (and, for a confined arena,
 * from any thread but its owner). Blocks start at 64 KiB (order 4) and double with each one taken,
 * up to the largest block, so an arena of a million small allocations takes a few dozen blocks; a
 * request larger than half the current block gets a block (or a mapping) of its own. Where
 * fragmentation leaves no block of the next order free, a smaller one serves, down to the
 * request's own order.
 *
 * <p>Invariant: every block and mapping taken is in {@link #blocks} / {@link #mappings} until the
 * close, which frees each exactly once, after the JDK scope is closed and so after the last
 * access through a segment of the arena.
 */
final class PagodaArena implements Arena {

    private static final int FIRST_BLOCK_ORDER = 4;

    private final PageAllocator pages;
    private final Arena scope;
    /** The confined arena's owner; null for a shared arena, whose methods take {@link #lock}. */
    private final Thread owner;
    private final ReentrantLock lock;
    private final int pageShift;
    private final long largestBlock;

    private long top;
    private long end;
    private int nextOrder;
    private long[] blocks = new long[16];
    private int[] orders = new int[16];
    private int blockCount;
    private final List<MemorySegment> mappings = new ArrayList<>();
    private boolean closed;

    PagodaArena(PageAllocator pages, boolean shared) {
        this.pages = pages;
        this.scope = shared ? Arena.ofShared() : Arena.ofConfined();
        this.owner = shared ? null : Thread.currentThread();
        this.lock = shared ? new ReentrantLock() : null;
        this.pageShift = Integer.numberOfTrailingZeros(pages.pageSize());
        this.largestBlock = pages.blockSize(pages.maxOrder());
        this.nextOrder = Math.min(FIRST_BLOCK_ORDER, pages.maxOrder());
    }

    /**
     * {@inheritDoc}
     *
     * <p>The memory is not zeroed unless the allocator is {@linkplain PageAllocator.Builder#zeroed
     * zeroed}. Alignment may be up to the largest block (up to the page size for a request larger
     * than the largest block, as for {@link PageAllocator#allocate(long, long)}).
     *
     * @throws IllegalStateException if the arena is closed
     * @throws WrongThreadException  if the arena is confined and this is not its owner thread
     * @throws OutOfPagesException   if the allocator has no block left for it
     */
    @Override
    public MemorySegment allocate(long byteSize, long byteAlignment) {
        if (byteSize < 0) {
            throw new IllegalArgumentException("byteSize must not be negative: " + byteSize);
        }
        PageAllocator.checkAlignment(byteAlignment);
        if (byteAlignment > largestBlock) {
            // Refused here, in the allocator's words: a block of the alignment's order would be
            // refused by allocatePages with only an order to show.
            throw new IllegalArgumentException("byteAlignment " + byteAlignment + " is larger than the largest block, "
                    + largestBlock + " bytes");
        }
        if (lock != null) {
            lock.lock();
        }
        try {
            ensureUsable();
            long address = (top + byteAlignment - 1) & -byteAlignment;
            if (top == 0 || byteSize > end - address) { // not address + byteSize > end: that may wrap
                address = refill(byteSize, byteAlignment);
            } else {
                top = address + byteSize;
            }
            return MemorySegment.ofAddress(address).reinterpret(byteSize, scope, null);
        } finally {
            if (lock != null) {
                lock.unlock();
            }
        }
    }

    /**
     * The current block cannot hold the request: a new block, or one of the request's own. The
     * new block is of the next order if the zones have one free; failing that, the largest they
     * have down to the request's own order, and only that order goes through the slow path (the
     * kernel's {@code allocate_slab}, which tries its preferred order without retrying, then the
     * minimum order): a fragmented allocator still serves a 16-byte request.
     */
    private long refill(long byteSize, long byteAlignment) {
        long blockBytes = pages.blockSize(nextOrder);
        if (byteSize > blockBytes / 2 || byteAlignment > blockBytes) {
            return ownBlock(byteSize, byteAlignment);
        }
        int least = orderFor(byteSize, byteAlignment);
        int order = nextOrder;
        long address = pages.allocatePagesIfFree(order, Lifetime.LONG_LIVED);
        while (address == 0 && order > least) {
            address = pages.allocatePagesIfFree(--order, Lifetime.LONG_LIVED);
        }
        if (address == 0) {
            address = pages.allocatePages(order, Lifetime.LONG_LIVED); // the least order, through the slow path
        }
        if (order == nextOrder) {
            nextOrder = Math.min(nextOrder + 1, pages.maxOrder());
        }
        keepBlock(address, order);
        top = address + byteSize;
        end = address + pages.blockSize(order);
        return address;
    }

    /** The least order whose block holds {@code byteSize} bytes aligned to {@code byteAlignment}. */
    private int orderFor(long byteSize, long byteAlignment) {
        return Math.max(pages.orderForSize(byteSize), Math.max(0, 63 - Long.numberOfLeadingZeros(byteAlignment) - pageShift));
    }

    /** A request too large to share a block: a block of its own, or above the largest block a mapping. */
    private long ownBlock(long byteSize, long byteAlignment) {
        if (byteSize > largestBlock) {
            MemorySegment mapping = pages.allocate(byteSize, byteAlignment);
            pages.claimMappingForArena(mapping);
            mappings.add(mapping);
            return mapping.address();
        }
        int order = orderFor(byteSize, byteAlignment);
        long address = pages.allocatePages(order, Lifetime.LONG_LIVED);
        keepBlock(address, order);
        return address;
    }

    /** Records a block taken, for the close to free. */
    private void keepBlock(long address, int order) {
        if (blockCount == blocks.length) {
            blocks = Arrays.copyOf(blocks, blockCount * 2);
            orders = Arrays.copyOf(orders, blockCount * 2);
        }
        blocks[blockCount] = address;
        orders[blockCount++] = order;
        pages.claimBlockForArena(address);
    }

    @Override
    public MemorySegment.Scope scope() {
        return scope.scope();
    }

    /**
     * Closes the arena: every segment it handed out becomes inaccessible, and every block it took
     * goes back to the allocator, one free per block, whatever the number of segments.
     *
     * @throws IllegalStateException if the arena is closed already, or a segment of it is in use
     *         by a native call at that moment (the JDK refuses to close its scope then; nothing is
     *         freed, and the arena stays open)
     * @throws WrongThreadException  if the arena is confined and this is not its owner thread
     * @throws RuntimeException      what a custom cleanup action (attached with
     *         {@link MemorySegment#reinterpret(long, Arena, java.util.function.Consumer)}) threw, as
     *         {@link Arena#close()} specifies: once the arena is closed and its blocks are back
     */
    @Override
    public void close() {
        Throwable cleanupFailed;
        if (lock != null) {
            lock.lock();
        }
        try {
            ensureUsable();
            cleanupFailed = closeScopeAndFreeAll();
        } finally {
            if (lock != null) {
                lock.unlock();
            }
        }
        pages.arenaClosed(this);
        rethrow(cleanupFailed);
    }

    /**
     * Closes the JDK scope, first, so that no access through a segment of ours can follow, then
     * gives back every block. The JDK closes the scope before it runs the custom cleanup actions,
     * and throws what one threw once it has run them all: the blocks go back all the same, and
     * that exception is returned, for the caller to throw once the arena is closed. If the JDK
     * refuses to close the scope (a native call holds a segment), its exception propagates and
     * nothing changes.
     */
    private Throwable closeScopeAndFreeAll() {
        Throwable cleanupFailed = null;
        try {
            scope.close();
        } catch (RuntimeException | Error e) {
            if (scope.scope().isAlive()) {
                throw e;
            }
            cleanupFailed = e;
        }
        closed = true;
        freeAll();
        return cleanupFailed;
    }

    /** Throws what a cleanup action threw, if anything. */
    static void rethrow(Throwable cleanupFailed) {
        if (cleanupFailed instanceof Error error) {
            throw error;
        }
        if (cleanupFailed != null) {
            throw (RuntimeException) cleanupFailed;
        }
    }

    private void freeAll() {
        for (int i = 0; i < blockCount; i++) {
            pages.freeArenaBlock(blocks[i], orders[i]);
        }
        for (MemorySegment mapping : mappings) {
            pages.freeArenaMapping(mapping);
        }
        blockCount = 0;
        mappings.clear();
    }

    /**
     * Whether this is a confined arena whose owner died with it open: its segments can no longer
     * be reached (a confined scope admits its owner only), and only that owner could have closed it.
     */
    boolean isOrphaned() {
        return owner != null && !owner.isAlive();
    }

    /**
     * Gives back the blocks of an {@linkplain #isOrphaned orphaned} arena, without closing the JDK
     * scope, which only its dead owner could do. {@link Thread#isAlive()} returning false orders
     * the owner's writes to this arena before our reads. The allocator calls it once per arena, as
     * whoever takes the arena out of its open arenas.
     */
    void freeOrphaned() {
        if (!closed) { // an Error may have cut the owner's own close short after this was set
            closed = true;
            freeAll();
        }
    }

    /**
     * The allocator is closing: closes a shared arena from the allocator's thread, if its users
     * did not.
     *
     * @return what a custom cleanup action threw, or null; the arena is closed either way
     */
    Throwable closeForAllocator() {
        lock.lock();
        try {
            return closed ? null : closeScopeAndFreeAll();
        } finally {
            lock.unlock();
        }
    }

    boolean isConfined() {
        return owner != null;
    }

    private void ensureUsable() {
        if (closed) {
            throw new IllegalStateException("the arena is closed");
        }
        if (owner != null && Thread.currentThread() != owner) {
            throw new WrongThreadException("this confined arena belongs to " + owner + ", not " + Thread.currentThread());
        }
    }

    @Override
    public String toString() {
        return (owner == null ? "shared" : "confined") + " PagodaArena[" + blockCount + " blocks"
                + (closed ? ", closed" : "") + "]";
    }
}
