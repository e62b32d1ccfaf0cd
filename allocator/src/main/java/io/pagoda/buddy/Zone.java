package io.pagoda.buddy;

import io.pagoda.region.PageDescriptors;

import java.util.concurrent.locks.ReentrantLock;

import static io.pagoda.region.PageDescriptors.ALLOCATED;
import static io.pagoda.region.PageDescriptors.CACHED;
import static io.pagoda.region.PageDescriptors.FREE;
import static io.pagoda.region.PageDescriptors.NO_FRAME;
import static io.pagoda.region.PageDescriptors.TAIL;

/**
 * A zone: a contiguous range of frames {@code [startPfn, endPfn)} with its own free lists,
 * counters and lock (the kernel's {@code struct zone} and {@code zone->lock}).
 *
 * <h2>The buddy system</h2>
 * Free memory is kept as blocks of 2^order frames, each aligned to its own size. Every block of
 * order k below the maximum has exactly one buddy, the other half of the order k+1 block they
 * make together: {@code buddy = pfn ^ (1 << k)} (see {@link #findBuddyPfn}).
 * <ol>
 *   <li>Allocate order n ({@link #rmqueueSmallestLocked}): take the first block on the smallest
 *       non-empty list of order &gt;= n; while it is bigger than asked, split it in halves and put
 *       the upper half back on the list one order down ({@link #expandLocked}).</li>
 *   <li>Free order n ({@link #freeOnePageLocked}): while the buddy is the head of a free block of
 *       the same order, take the buddy off its list and merge; put the result on its list.</li>
 * </ol>
 * Both are O(maxOrder) and touch only head descriptors.
 *
 * <h2>Deferred initialisation</h2>
 * Writing a descriptor for every max-order block of a 1 TiB zone up front would touch 1 GiB of
 * descriptor table. Like the kernel's deferred struct-page init, the zone instead keeps a frontier:
 * frames in {@code [untouchedPfn, endPfn)} are free but on no list, and are carved into the free
 * lists one block at a time, only when the lists cannot serve a request. A zone thus uses its
 * memory from the bottom up and its descriptor table costs resident memory only where used.
 *
 * <h2>Invariants</h2>
 * At every point where the lock is free:
 * <ul>
 *   <li>conservation: {@code freeFrames + allocatedFrames = endPfn - startPfn}, where freeFrames
 *       counts the lists and the untouched frames;</li>
 *   <li>alignment: a block of order k starts at a multiple of 2^k (the zone starts on a max-order
 *       boundary, so relative and absolute alignment agree);</li>
 *   <li>maximal merging: no two free buddies of the same order are both on the lists.</li>
 * </ul>
 * Methods named {@code ...Locked} expect the caller to hold {@link #lock}.
 */
public final class Zone {

    /**
     * Returned by {@link #free} when the block was freed. Any other result is the info word found
     * at the frame, which was not the head of an allocated block of the given order.
     */
    public static final int FREED = -1;

    private final ReentrantLock lock = new ReentrantLock();
    private final PageDescriptors descriptors;
    private final FreeLists freeLists;
    private final String name;
    private final int nodeId;
    private final int startPfn;
    private final int endPfn;
    private final int maxOrder;
    private final int lifetimes;

    // Guarded by lock.
    private int untouchedPfn;
    private long freeFrames;
    private long allocatedFrames;
    private boolean retired;

    /**
     * Creates a zone over {@code [startPfn, endPfn)}, all free.
     *
     * @throws IllegalArgumentException if the range is empty or its start is not a multiple of
     *         {@code 2^maxOrder}
     */
    public Zone(String name, int nodeId, PageDescriptors descriptors, int startPfn, int endPfn, int maxOrder,
                int lifetimes) {
        if (startPfn < 0 || endPfn <= startPfn) {
            throw new IllegalArgumentException("empty zone [" + startPfn + ", " + endPfn + ")");
        }
        if ((startPfn & ((1 << maxOrder) - 1)) != 0) {
            throw new IllegalArgumentException("zone start " + startPfn + " is not aligned to order " + maxOrder);
        }
        this.name = name;
        this.nodeId = nodeId;
        this.descriptors = descriptors;
        this.freeLists = new FreeLists(descriptors, maxOrder, lifetimes);
        this.startPfn = startPfn;
        this.endPfn = endPfn;
        this.maxOrder = maxOrder;
        this.lifetimes = lifetimes;
        this.untouchedPfn = startPfn;
        this.freeFrames = endPfn - startPfn;
    }

    /**
     * The pfn of the buddy of the block of order {@code order} at {@code pfn}.
     *
     * <p>Two buddies differ only in bit {@code order}: flipping it gives the twin, clearing it gives
     * their parent of order + 1. Example: at order 2, pfn 12 (0b1100) has buddy 8 (0b1000), and the
     * order-3 block they form starts at 8 = 12 &amp; ~4.
     */
    public static int findBuddyPfn(int pfn, int order) {
        return pfn ^ (1 << order);
    }

    /**
     * Allocates a block of 2^order frames with the given lifetime type.
     *
     * @return the head pfn, or {@link PageDescriptors#NO_FRAME} if the zone has no free block of
     *         that order or larger
     * @throws IllegalStateException if the zone is retired
     */
    public int allocate(int order, int lifetime) {
        lock.lock();
        try {
            ensureLiveLocked();
            int pfn = rmqueueSmallestLocked(order, lifetime);
            if (pfn != NO_FRAME) {
                descriptors.setInfo(pfn, PageDescriptors.info(ALLOCATED, order, lifetime));
                freeFrames -= 1L << order;
                allocatedFrames += 1L << order;
            }
            return pfn;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Frees the block of 2^order frames at {@code pfn}, merging it with its free buddies. A frame
     * that is not the head of an allocated block of that order (a double free, a tail, a wrong
     * order) changes nothing.
     *
     * @return {@link #FREED}, or the descriptor info word found at {@code pfn} when it was not the
     *         head of an allocated block of {@code order}
     * @throws IllegalStateException if the zone is retired
     */
    public int free(int pfn, int order) {
        lock.lock();
        try {
            ensureLiveLocked();
            int info = descriptors.info(pfn);
            // A slab's block carries the slab flag: only its slab class may free it.
            if (info != PageDescriptors.info(ALLOCATED, order, PageDescriptors.lifetime(info))) {
                return info;
            }
            freeOnePageLocked(pfn, order, PageDescriptors.lifetime(info));
            freeFrames += 1L << order;
            allocatedFrames -= 1L << order;
            return FREED;
        } finally {
            lock.unlock();
        }
    }

    /**
     * The kernel's {@code rmqueue_bulk}: takes up to {@code count} blocks of 2^order frames under
     * one lock acquisition, for a per-thread cache, and marks them CACHED.
     *
     * @param into receives the head pfns, from index 0
     * @return how many blocks were taken: fewer than count only when the zone ran out
     * @throws IllegalStateException if the zone is retired
     */
    public int rmqueueBulk(int order, int lifetime, int[] into, int count) {
        lock.lock();
        try {
            ensureLiveLocked();
            int taken = 0;
            while (taken < count) {
                int pfn = rmqueueSmallestLocked(order, lifetime);
                if (pfn == NO_FRAME) {
                    break;
                }
                descriptors.setInfo(pfn, PageDescriptors.info(CACHED, order, lifetime));
                into[taken++] = pfn;
            }
            freeFrames -= (long) taken << order;
            allocatedFrames += (long) taken << order;
            return taken;
        } finally {
            lock.unlock();
        }
    }

    /**
     * The kernel's {@code free_pcppages_bulk}: gives back {@code count} CACHED blocks of 2^order
     * frames, {@code pfns[from .. from + count)}, under one lock acquisition, merging each.
     *
     * @throws IllegalStateException if a block is not a CACHED head of that order (the caches are
     *         corrupt: nothing is freed), or the zone is retired
     */
    public void freeBulk(int[] pfns, int from, int count, int order) {
        lock.lock();
        try {
            ensureLiveLocked();
            for (int i = from; i < from + count; i++) {
                checkCachedLocked(pfns[i], order);
            }
            for (int i = from; i < from + count; i++) {
                freeOnePageLocked(pfns[i], order, PageDescriptors.lifetime(descriptors.info(pfns[i])));
            }
            freeFrames += (long) count << order;
            allocatedFrames -= (long) count << order;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Gives back one CACHED block that a cache could not take (its stacks were busy).
     *
     * @throws IllegalStateException if the block is not a CACHED head of that order, or the zone
     *         is retired
     */
    public void freeCached(int pfn, int order) {
        lock.lock();
        try {
            ensureLiveLocked();
            checkCachedLocked(pfn, order);
            freeOnePageLocked(pfn, order, PageDescriptors.lifetime(descriptors.info(pfn)));
            freeFrames += 1L << order;
            allocatedFrames -= 1L << order;
        } finally {
            lock.unlock();
        }
    }

    private void checkCachedLocked(int pfn, int order) {
        int info = descriptors.info(pfn);
        if (PageDescriptors.state(info) != CACHED || PageDescriptors.order(info) != order) {
            throw new IllegalStateException("pfn " + pfn + " given back from a cache as order " + order
                    + " has state " + PageDescriptors.state(info) + " order " + PageDescriptors.order(info));
        }
    }

    /**
     * The kernel's {@code __rmqueue_smallest}: takes the smallest free block of order &gt;= order
     * off its list and splits it down to order. Falls back on carving untouched frames.
     */
    private int rmqueueSmallestLocked(int order, int lifetime) {
        assert lock.isHeldByCurrentThread();
        for (int current = order; current <= maxOrder; current++) {
            int pfn = freeLists.first(current, lifetime);
            if (pfn != NO_FRAME) {
                freeLists.remove(pfn, current, lifetime);
                expandLocked(pfn, order, current, lifetime);
                return pfn;
            }
        }
        return carveUntouchedLocked(order, lifetime);
    }

    /**
     * The kernel's {@code expand}: the block of order {@code high} at {@code pfn} is split until
     * order {@code low} remains; each upper half goes back on the free list of its order.
     */
    private void expandLocked(int pfn, int low, int high, int lifetime) {
        assert lock.isHeldByCurrentThread();
        while (high > low) {
            high--;
            freeLists.add(pfn + (1 << high), high, lifetime);
        }
    }

    /**
     * Deferred initialisation: carves blocks off the untouched frontier until one of order
     * &gt;= {@code order} is found, which is split to order and returned. Smaller blocks (only near
     * the end of a zone whose size is not a multiple of the max-order block) go on the lists.
     */
    private int carveUntouchedLocked(int order, int lifetime) {
        assert lock.isHeldByCurrentThread();
        while (untouchedPfn < endPfn) {
            int pfn = untouchedPfn;
            int blockOrder = largestBlockOrderAt(pfn, endPfn - pfn);
            untouchedPfn += 1 << blockOrder;
            if (blockOrder >= order) {
                expandLocked(pfn, order, blockOrder, lifetime);
                return pfn;
            }
            freeLists.add(pfn, blockOrder, lifetime);
        }
        return NO_FRAME;
    }

    /** The largest order k &lt;= maxOrder with pfn aligned to 2^k and 2^k &lt;= frames. */
    private int largestBlockOrderAt(int pfn, int frames) {
        int alignment = pfn == 0 ? maxOrder : Integer.numberOfTrailingZeros(pfn);
        int fits = 31 - Integer.numberOfLeadingZeros(frames);
        return Math.min(maxOrder, Math.min(alignment, fits));
    }

    /**
     * The kernel's {@code __free_one_page}: merges the block at {@code pfn} with its buddy while
     * the buddy is a free block of the same order, then puts the result on its free list.
     */
    private void freeOnePageLocked(int pfn, int order, int lifetime) {
        assert lock.isHeldByCurrentThread();
        descriptors.setInfo(pfn, TAIL);
        while (order < maxOrder) {
            int buddy = findBuddyPfn(pfn, order);
            if (buddy + (1 << order) > endPfn) {
                break; // the buddy would reach past the zone's end (its tail): nothing to merge with
            }
            int buddyInfo = descriptors.info(buddy);
            if (PageDescriptors.state(buddyInfo) != FREE || PageDescriptors.order(buddyInfo) != order) {
                break;
            }
            freeLists.remove(buddy, order, PageDescriptors.lifetime(buddyInfo));
            descriptors.setInfo(buddy, TAIL); // the swallowed head is now inside the merged block
            pfn &= buddy;
            order++;
        }
        freeLists.add(pfn, order, lifetime);
    }

    private void ensureLiveLocked() {
        if (retired) {
            throw new IllegalStateException("zone " + name + " of node " + nodeId + " is retired: its allocator is closed");
        }
    }

    /** Marks the zone retired: every later allocate or free throws. Waits for a caller inside the lock. */
    public void retire() {
        lock.lock();
        try {
            retired = true;
        } finally {
            lock.unlock();
        }
    }

    /** Whether {@code pfn} lies in this zone. */
    public boolean contains(int pfn) {
        return pfn >= startPfn && pfn < endPfn;
    }

    /**
     * The number of free blocks of each order, untouched frames counted as the blocks they will be
     * carved into: {@code result[order]}, for /proc/buddyinfo.
     */
    public long[] freeBlocksPerOrder() {
        long[] blocks = new long[maxOrder + 1];
        lock.lock();
        try {
            for (int order = 0; order <= maxOrder; order++) {
                for (int lifetime = 0; lifetime < lifetimes; lifetime++) {
                    blocks[order] += freeLists.count(order, lifetime);
                }
            }
            // Carving takes the largest aligned block at each step, so the untouched frames split
            // into max-order blocks plus one block per set bit of the remainder below max order.
            long untouched = endPfn - untouchedPfn;
            blocks[maxOrder] += untouched >>> maxOrder;
            for (int order = 0; order < maxOrder; order++) {
                blocks[order] += (untouched >>> order) & 1;
            }
        } finally {
            lock.unlock();
        }
        return blocks;
    }

    /** Free frames: on the free lists plus untouched. */
    public long freeFrames() {
        lock.lock();
        try {
            return freeFrames;
        } finally {
            lock.unlock();
        }
    }

    /** Frames in blocks handed out of the zone: to users, or to per-thread caches. */
    public long allocatedFrames() {
        lock.lock();
        try {
            return allocatedFrames;
        } finally {
            lock.unlock();
        }
    }

    // Introspection for audits at quiescent points (tests, debug reports); not for hot paths.

    /** Head of the free list of (order, lifetime), or NO_FRAME. Caller holds the lock or the zone is quiescent. */
    public int freeListHead(int order, int lifetime) {
        return freeLists.first(order, lifetime);
    }

    /** Length of the free list of (order, lifetime) as counted. Caller holds the lock or the zone is quiescent. */
    public long freeListCount(int order, int lifetime) {
        return freeLists.count(order, lifetime);
    }

    /** First frame of the untouched frontier. Caller holds the lock or the zone is quiescent. */
    public int untouchedPfn() {
        return untouchedPfn;
    }

    public ReentrantLock lock() {
        return lock;
    }

    public PageDescriptors descriptors() {
        return descriptors;
    }

    public String name() {
        return name;
    }

    public int nodeId() {
        return nodeId;
    }

    public int startPfn() {
        return startPfn;
    }

    public int endPfn() {
        return endPfn;
    }

    public int maxOrder() {
        return maxOrder;
    }

    public int lifetimes() {
        return lifetimes;
    }

    /** Frames spanned by the zone. */
    public long managedFrames() {
        return endPfn - startPfn;
    }
}
