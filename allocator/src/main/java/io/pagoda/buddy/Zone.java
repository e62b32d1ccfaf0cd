package io.pagoda.buddy;

import io.pagoda.region.PageDescriptors;
import io.pagoda.region.Region;

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
 * <h2>Grouping by lifetime</h2>
 * The zone is cut into pageblocks of 2^pageblockOrder frames, each of one {@link Lifetimes lifetime
 * type}, and every free block sits on the list of its pageblock's type. An allocation of type t
 * ({@link #rmqueueLocked}) takes, in this order:
 * <ol>
 *   <li>the smallest free block of type t;</li>
 *   <li>a whole free pageblock (or larger block) of another type, which becomes t's;</li>
 *   <li>fresh pageblocks from the untouched frontier (below);</li>
 *   <li>a block from inside another type's pageblock, claiming the whole pageblock for t where
 *       {@link #stealLocked} says, else only borrowing the block (the kernel's
 *       {@code __rmqueue_fallback} and {@code steal_suitable_fallback}).</li>
 * </ol>
 * Reusing free pageblocks before fresh ones keeps the memory in use small; stealing last, and in
 * whole pageblocks where it can, keeps the types apart, so that short-lived memory coalesces into
 * large blocks again once it is freed. Critical allocations have pageblocks of their own, the
 * reserve ({@link Lifetimes#RESERVE}, the kernel's highatomic): up to 1% of the zone, made of the
 * pageblocks that served critical allocations, used by nothing else, and given back
 * ({@link #unreserve}) before an ordinary allocation fails. Until then its free blocks do not
 * count towards an ordinary allocation's watermarks ({@link #usableFreeFrames}). Grouping can be
 * turned off (the kernel's {@code page_group_by_mobility_disabled}): every type then uses the
 * short-lived lists.
 *
 * <h2>Deferred initialisation</h2>
 * Writing a descriptor for every max-order block of a 1 TiB zone up front would touch 1 GiB of
 * descriptor table. Like the kernel's deferred struct-page init, the zone instead keeps a frontier:
 * frames in {@code [untouchedPfn, endPfn)} are free but on no list, and are carved into the free
 * lists one block at a time, only when the lists cannot serve a request. A zone thus uses its
 * memory from the bottom up and its descriptor table costs resident memory only where used.
 *
 * <h2>Memory back to the operating system</h2>
 * A free block of pageblock order or more carries a stamp: the {@linkplain #purge purge} epoch it
 * became free in. A purge pass hands back (MADV_DONTNEED) the memory of every such block free for
 * longer than the decay, and marks it purged, so that RSS falls after a burst (the kernel's free
 * page reporting). Nothing else changes: the block stays on its list, and reusing it costs only
 * the page faults of first touch. Halves split off a block keep its stamp.
 *
 * <h2>Invariants</h2>
 * At every point where the lock is free:
 * <ul>
 *   <li>conservation: {@code freeFrames + allocatedFrames = endPfn - startPfn}, where freeFrames
 *       counts the lists and the untouched frames;</li>
 *   <li>alignment: a block of order k starts at a multiple of 2^k (the zone starts on a max-order
 *       boundary, so relative and absolute alignment agree);</li>
 *   <li>maximal merging: no two free buddies of the same order are both on the lists;</li>
 *   <li>grouping: a free block is on the list of its pageblock's type, and a free block of
 *       pageblock order or more spans pageblocks of one type.</li>
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
    private final int pageblockOrder;
    private final boolean groupByLifetime;
    private final Watermarks watermarks;

    // Guarded by lock.
    private int untouchedPfn;
    private long freeFrames;
    private long allocatedFrames;
    private boolean retired;
    /** Allocations served from another type's memory, and pageblocks claimed by them (vmstat's extfrag events). */
    private long fallbacks;
    private long pageblocksClaimed;
    /** Blocks handed out by {@link #allocate} and taken back by the frees, not through a cache (vmstat's pgalloc, pgfree). */
    private long allocations;
    private long frees;
    /** Passes of {@link #purge} so far: the clock that large free blocks are stamped with. */
    private int purgeEpoch;
    /** Frames handed back to the operating system since the zone was made. */
    private long purgedFrames;
    /** Pageblocks in the reserve for critical allocations, and the most there may be. */
    private int reservedPageblocks;
    private final int maxReservedPageblocks;
    /** Ordinary allocations refused at the min watermark. */
    private long minWatermarkRefusals;
    /** Run when an allocation leaves free frames below the low watermark: wakes the reclaimer. */
    private Runnable lowWatermarkWakeup = () -> { };

    /**
     * Creates a zone over {@code [startPfn, endPfn)}, all free.
     *
     * @param pageblockOrder  order of the pageblocks lifetimes are grouped in, at most maxOrder
     * @param groupByLifetime false to keep every type on the short-lived lists
     * @param watermarks      min, low and high, in frames
     * @throws IllegalArgumentException if the range is empty, its start is not a multiple of
     *         {@code 2^maxOrder}, or pageblockOrder is outside {@code [0, maxOrder]}
     */
    public Zone(String name, int nodeId, PageDescriptors descriptors, int startPfn, int endPfn, int maxOrder,
                int pageblockOrder, boolean groupByLifetime, Watermarks watermarks) {
        if (startPfn < 0 || endPfn <= startPfn) {
            throw new IllegalArgumentException("empty zone [" + startPfn + ", " + endPfn + ")");
        }
        if ((startPfn & ((1 << maxOrder) - 1)) != 0) {
            throw new IllegalArgumentException("zone start " + startPfn + " is not aligned to order " + maxOrder);
        }
        if (pageblockOrder < 0 || pageblockOrder > maxOrder) {
            throw new IllegalArgumentException("pageblock order " + pageblockOrder + " is outside [0, " + maxOrder + "]");
        }
        this.name = name;
        this.nodeId = nodeId;
        this.descriptors = descriptors;
        this.freeLists = new FreeLists(descriptors, maxOrder, Lifetimes.COUNT);
        this.startPfn = startPfn;
        this.endPfn = endPfn;
        this.maxOrder = maxOrder;
        this.pageblockOrder = pageblockOrder;
        this.groupByLifetime = groupByLifetime;
        this.watermarks = watermarks;
        // The kernel's limit on highatomic pageblocks: 1% of the zone, plus one pageblock.
        this.maxReservedPageblocks = (int) (((endPfn - startPfn) / 100 + (1L << pageblockOrder)) >> pageblockOrder);
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
     * Allocates a block of 2^order frames with the given lifetime type, if that leaves at least
     * the min watermark free (the kernel's {@code zone_watermark_ok}).
     *
     * @return the head pfn, or {@link PageDescriptors#NO_FRAME} if the zone has no free block of
     *         that order or larger, or would fall below min
     * @throws IllegalStateException if the zone is retired
     */
    public int allocate(int order, int lifetime) {
        return allocate(order, lifetime, false);
    }

    /**
     * Allocates as {@link #allocate(int, int)} does, or with {@code belowMin} may take the memory
     * below the min watermark: for critical allocations, and for reclaim itself (the kernel's
     * {@code ALLOC_NO_WATERMARKS}).
     */
    public int allocate(int order, int lifetime, boolean belowMin) {
        long mark = belowMin ? 0 : watermarks.min();
        int pfn = NO_FRAME;
        Runnable wakeup;
        lock.lock();
        try {
            ensureLiveLocked();
            long usable = lifetime == Lifetimes.RESERVE ? freeFrames : usableFreeLocked();
            if (usable - (1L << order) >= mark) {
                pfn = rmqueueLocked(order, lifetime);
            } else if (usable >= 1L << order) {
                minWatermarkRefusals++; // the watermark kept what there is; an empty zone refuses no one
            }
            if (pfn != NO_FRAME) {
                descriptors.setInfo(pfn, PageDescriptors.info(ALLOCATED, order, lifetime));
                freeFrames -= 1L << order;
                allocatedFrames += 1L << order;
                allocations++;
            }
            wakeup = usableFreeLocked() < watermarks.low() ? lowWatermarkWakeup : null;
        } finally {
            lock.unlock();
        }
        if (wakeup != null) {
            wakeup.run();
        }
        return pfn;
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
            freeOnePageLocked(pfn, order);
            freeFrames += 1L << order;
            allocatedFrames -= 1L << order;
            frees++;
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
     * @return how many blocks were taken: fewer than count only when the zone ran out or reached
     *         its min watermark
     * @throws IllegalStateException if the zone is retired
     */
    public int rmqueueBulk(int order, int lifetime, int[] into, int count) {
        int taken = 0;
        Runnable wakeup;
        lock.lock();
        try {
            ensureLiveLocked();
            long usable = usableFreeLocked();
            while (taken < count) {
                if (usable - ((long) (taken + 1) << order) < watermarks.min()) {
                    if (usable >= (long) (taken + 1) << order) {
                        minWatermarkRefusals++;
                    }
                    break;
                }
                int pfn = rmqueueLocked(order, lifetime);
                if (pfn == NO_FRAME) {
                    break;
                }
                descriptors.setInfo(pfn, PageDescriptors.info(CACHED, order, lifetime));
                into[taken++] = pfn;
            }
            freeFrames -= (long) taken << order;
            allocatedFrames += (long) taken << order;
            wakeup = usableFreeLocked() < watermarks.low() ? lowWatermarkWakeup : null;
        } finally {
            lock.unlock();
        }
        if (wakeup != null) {
            wakeup.run();
        }
        return taken;
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
                freeOnePageLocked(pfns[i], order);
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
            freeOnePageLocked(pfn, order);
            freeFrames += 1L << order;
            allocatedFrames -= 1L << order;
            frees++;
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
     * The kernel's {@code __rmqueue}: a block of 2^order frames for {@code lifetime}, from the
     * places the class comment lists, in its order; NO_FRAME if the zone has none.
     */
    private int rmqueueLocked(int order, int lifetime) {
        if (lifetime == Lifetimes.RESERVE) {
            return rmqueueReserveLocked(order);
        }
        int type = groupByLifetime ? lifetime : Lifetimes.SHORT_LIVED;
        int pfn = rmqueueSmallestLocked(order, type);
        if (pfn == NO_FRAME && groupByLifetime) {
            pfn = claimFreePageblocksLocked(order, type);
        }
        if (pfn == NO_FRAME) {
            pfn = carveUntouchedLocked(order, type);
        }
        if (pfn == NO_FRAME && groupByLifetime) {
            pfn = stealLocked(order, type);
        }
        return pfn;
    }

    /**
     * A critical allocation (the kernel's {@code ALLOC_HIGHATOMIC}): the reserve first, then
     * short-lived memory; a block of order above 0 taken outside the reserve brings its pageblock
     * into the reserve, while the reserve is below its size (the kernel's
     * {@code reserve_highatomic_pageblock}), so that the next critical allocations of that size
     * find memory there even when the rest is cut into small pieces.
     */
    private int rmqueueReserveLocked(int order) {
        int pfn = groupByLifetime ? rmqueueSmallestLocked(order, Lifetimes.RESERVE) : NO_FRAME;
        if (pfn != NO_FRAME) {
            return pfn;
        }
        pfn = rmqueueLocked(order, Lifetimes.SHORT_LIVED);
        if (pfn != NO_FRAME && groupByLifetime && order > 0 && order < pageblockOrder
                && reservedPageblocks < maxReservedPageblocks) {
            int start = pfn & -(1 << pageblockOrder);
            int owner = descriptors.pageblockType(start);
            if (owner != Lifetimes.RESERVE) {
                // The block is off the lists but still reads FREE until the caller marks it: mark it
                // now, or the pageblock walk would take it for a free block and list it again.
                descriptors.setInfo(pfn, PageDescriptors.info(ALLOCATED, order, Lifetimes.RESERVE));
                movePageblockLocked(start, owner, Lifetimes.RESERVE);
            }
        }
        return pfn;
    }

    /**
     * Gives every reserved pageblock back to short-lived use, with its free blocks (the kernel's
     * {@code unreserve_highatomic_pageblock}): the last thing tried before an ordinary
     * allocation fails.
     *
     * @return the pageblocks given back
     */
    public int unreserve() {
        lock.lock();
        try {
            ensureLiveLocked();
            int given = 0;
            for (int start = startPfn; start < untouchedPfn && reservedPageblocks > 0; start += 1 << pageblockOrder) {
                if (descriptors.pageblockType(start) == Lifetimes.RESERVE) {
                    movePageblockLocked(start, Lifetimes.RESERVE, Lifetimes.SHORT_LIVED);
                    given++;
                }
            }
            return given;
        } finally {
            lock.unlock();
        }
    }

    /**
     * The kernel's {@code __rmqueue_smallest}: takes the smallest free block of order &gt;= order
     * off the lists of {@code type} and splits it down to order.
     */
    private int rmqueueSmallestLocked(int order, int type) {
        assert lock.isHeldByCurrentThread();
        for (int current = order; current <= maxOrder; current++) {
            int pfn = freeLists.first(current, type);
            if (pfn != NO_FRAME) {
                freeLists.remove(pfn, current, type);
                expandLocked(pfn, order, current, type);
                return pfn;
            }
        }
        return NO_FRAME;
    }

    /**
     * Takes a free block of pageblock order or more from another type, largest first, and makes
     * all its pageblocks {@code type}'s: a whole free pageblock belongs to no one in particular.
     */
    private int claimFreePageblocksLocked(int order, int type) {
        for (int current = maxOrder; current >= Math.max(order, pageblockOrder); current--) {
            for (int fallback : Lifetimes.fallbacks(type)) {
                int pfn = freeLists.first(current, fallback);
                if (pfn != NO_FRAME) {
                    freeLists.remove(pfn, current, fallback);
                    setPageblockTypes(pfn, current, type);
                    pageblocksClaimed += pageblocksIn(current);
                    fallbacks++;
                    expandLocked(pfn, order, current, type);
                    return pfn;
                }
            }
        }
        return NO_FRAME;
    }

    /**
     * The kernel's {@code __rmqueue_fallback} below pageblock order: memory from inside another
     * type's pageblock. First it tries to claim a whole pageblock, looking at the largest blocks
     * first (a big free block suggests a mostly free pageblock). Failing that it borrows the
     * smallest block that fits, split on its owner's lists: the pageblock keeps its type, and the
     * harm is one small block out of place.
     *
     * <p>Who claims: a large short-lived allocation, when at least half the pageblock is free or
     * short-lived already, as in the kernel; a long-lived or reclaimable one, always. The kernel
     * can compact movable pages out of a pageblock later, and Pagoda cannot move memory, so a
     * type that stays puts its blocks in as few pageblocks as it can: a long-lived block borrowed
     * into a short-lived pageblock would keep that pageblock from ever being whole again. (On the
     * fragmentation benchmark, claiming at half as the kernel does left 28% of the free memory
     * usable for 2 MiB blocks; always claiming leaves 76%.)
     */
    private int stealLocked(int order, int type) {
        int top = Math.min(maxOrder, pageblockOrder - 1);
        // The kernel's can_steal_fallback: small short-lived blocks come back soon, so they borrow.
        if (order >= pageblockOrder / 2 || type != Lifetimes.SHORT_LIVED) {
            for (int current = top; current >= order; current--) {
                for (int fallback : Lifetimes.fallbacks(type)) {
                    int pfn = freeLists.first(current, fallback);
                    if (pfn != NO_FRAME && claimPageblockLocked(pfn, fallback, type)) {
                        fallbacks++;
                        return rmqueueSmallestLocked(order, type);
                    }
                }
            }
        }
        for (int current = order; current <= top; current++) {
            for (int fallback : Lifetimes.fallbacks(type)) {
                int pfn = freeLists.first(current, fallback);
                if (pfn != NO_FRAME) {
                    fallbacks++;
                    freeLists.remove(pfn, current, fallback);
                    expandLocked(pfn, order, current, fallback);
                    return pfn;
                }
            }
        }
        return NO_FRAME;
    }

    /**
     * Makes the pageblock around {@code pfn} {@code type}'s, moving its free blocks to type's lists:
     * for a long-lived type always, for short-lived blocks if at least half of its frames are free
     * or short-lived already (see {@link #stealLocked}); else changes nothing.
     */
    private boolean claimPageblockLocked(int pfn, int owner, int type) {
        int start = pfn & -(1 << pageblockOrder);
        int end = Math.min(endPfn, start + (1 << pageblockOrder));
        if (type == Lifetimes.SHORT_LIVED && freeOrAlikeFrames(start, end, type) < 1 << (pageblockOrder - 1)) {
            return false;
        }
        movePageblockLocked(start, owner, type);
        pageblocksClaimed++;
        return true;
    }

    /** Makes the pageblock at {@code start} {@code type}'s, moving its free blocks from owner's lists. */
    private void movePageblockLocked(int start, int owner, int type) {
        int end = Math.min(endPfn, start + (1 << pageblockOrder));
        for (int head = start; head < end; head += blockFramesAt(head)) {
            int info = descriptors.info(head);
            if (PageDescriptors.state(info) == FREE) {
                int blockOrder = PageDescriptors.order(info);
                freeLists.remove(head, blockOrder, owner);
                freeLists.add(head, blockOrder, type);
            }
        }
        setPageblockTypes(start, 0, type);
    }

    /** Frames in [start, end) free or in blocks allocated with {@code type}: the kernel's free + alike pages. */
    private int freeOrAlikeFrames(int start, int end, int type) {
        int frames = 0;
        for (int head = start; head < end; head += blockFramesAt(head)) {
            int info = descriptors.info(head);
            int state = PageDescriptors.state(info);
            if (state == FREE || state != TAIL && PageDescriptors.lifetime(info) == type) {
                frames += 1 << PageDescriptors.order(info);
            }
        }
        return frames;
    }

    /**
     * Frames from a head to the next head when walking a pageblock. Heads of blocks that move
     * between allocated and cached without the lock keep their order, so a racing read is safe.
     */
    private int blockFramesAt(int pfn) {
        int info = descriptors.info(pfn);
        return PageDescriptors.state(info) == TAIL ? 1 : 1 << PageDescriptors.order(info);
    }

    /** The type of the pageblock that holds {@code pfn}. */
    private int pageblockTypeOf(int pfn) {
        return descriptors.pageblockType(pfn & -(1 << pageblockOrder));
    }

    /** Sets the type of every pageblock the block of 2^order frames at pfn overlaps. */
    private void setPageblockTypes(int pfn, int order, int type) {
        int first = pfn & -(1 << pageblockOrder);
        int end = Math.min(endPfn, pfn + (1 << order));
        for (int start = first; start < end; start += 1 << pageblockOrder) {
            boolean wasReserved = start < untouchedPfn && descriptors.pageblockType(start) == Lifetimes.RESERVE;
            reservedPageblocks += (type == Lifetimes.RESERVE ? 1 : 0) - (wasReserved ? 1 : 0);
            descriptors.setPageblockType(start, type);
        }
    }

    private int pageblocksIn(int order) {
        return 1 << Math.max(0, order - pageblockOrder);
    }

    /**
     * The kernel's {@code expand}: the block of order {@code high} at {@code pfn} is split until
     * order {@code low} remains; each upper half goes back on the free list of its order and of
     * {@code type}, the type of the pageblock it lies in.
     */
    private void expandLocked(int pfn, int low, int high, int type) {
        assert lock.isHeldByCurrentThread();
        int stamp = high > pageblockOrder ? descriptors.freeSince(pfn) : 0; // only large halves carry one
        while (high > low) {
            high--;
            int half = pfn + (1 << high);
            if (high >= pageblockOrder) {
                descriptors.setFreeSince(half, stamp);
            }
            freeLists.add(half, high, type);
        }
    }

    /**
     * Deferred initialisation: carves blocks off the untouched frontier until one of order
     * &gt;= {@code order} is found, which is split to order and returned. Smaller blocks (only near
     * the end of a zone whose size is not a multiple of the max-order block) go on the lists. Every
     * pageblock carved becomes {@code type}'s.
     */
    private int carveUntouchedLocked(int order, int type) {
        assert lock.isHeldByCurrentThread();
        while (untouchedPfn < endPfn) {
            int pfn = untouchedPfn;
            int blockOrder = largestBlockOrderAt(pfn, endPfn - pfn);
            untouchedPfn += 1 << blockOrder;
            int blockType = type;
            if ((pfn & ((1 << pageblockOrder) - 1)) != 0) {
                // The tail of a pageblock begun by an earlier carve (near the zone's end): the
                // pageblock has a type, and free blocks on its lists already; the block joins them.
                blockType = pageblockTypeOf(pfn);
            } else {
                setPageblockTypes(pfn, blockOrder, type);
            }
            descriptors.setFreeSince(pfn, PageDescriptors.PURGED); // never touched: nothing to hand back
            if (blockOrder >= order && blockType == type) {
                expandLocked(pfn, order, blockOrder, type);
                return pfn;
            }
            freeLists.add(pfn, blockOrder, blockType);
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
     * the buddy is a free block of the same order, then puts the result on the list of its
     * pageblock's type. A merge past pageblock order makes the buddy's pageblocks that type too,
     * so that a large free block is of one type throughout.
     */
    private void freeOnePageLocked(int pfn, int order) {
        assert lock.isHeldByCurrentThread();
        int type = pageblockTypeOf(pfn);
        if (order > pageblockOrder) {
            setPageblockTypes(pfn, order, type);
        }
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
            int buddyType = PageDescriptors.lifetime(buddyInfo);
            freeLists.remove(buddy, order, buddyType);
            // Only past pageblock order can the types differ: inside a pageblock, free blocks share
            // its type. The merged block takes the freed block's type, unless that is the reserve,
            // which gives way: the reserve never grows by merging.
            if (buddyType != type && type == Lifetimes.RESERVE) {
                setPageblockTypes(pfn, order, buddyType);
                type = buddyType;
            } else if (buddyType != type) {
                setPageblockTypes(buddy, order, type);
            }
            descriptors.setInfo(buddy, TAIL); // the swallowed head is now inside the merged block
            pfn &= buddy;
            order++;
        }
        if (order >= pageblockOrder) {
            descriptors.setFreeSince(pfn, purgeEpoch);
        }
        freeLists.add(pfn, order, type);
    }

    /**
     * One pass of handing memory back: advances the purge epoch, then hands back the memory of
     * up to {@code limit} free blocks of pageblock order or more that have been free for at least
     * {@code decayEpochs} passes and are not purged yet, one lock acquisition (and one madvise)
     * each, so that allocating threads wait for one block at most.
     *
     * @return the frames handed back in this pass
     */
    public long purge(int decayEpochs, int limit, Region region) {
        int[] candidates = new int[limit];
        int found = 0;
        int epoch;
        lock.lock();
        try {
            ensureLiveLocked();
            epoch = purgeEpoch = (purgeEpoch + 1) & ~PageDescriptors.PURGED;
            for (int order = maxOrder; order >= pageblockOrder && found < limit; order--) {
                for (int type = 0; type < Lifetimes.COUNT && found < limit; type++) {
                    for (int pfn = freeLists.first(order, type); pfn != NO_FRAME && found < limit; pfn = descriptors.next(pfn)) {
                        if (isIdleLocked(pfn, epoch, decayEpochs)) {
                            candidates[found++] = pfn;
                        }
                    }
                }
            }
        } finally {
            lock.unlock();
        }
        long purged = 0;
        for (int i = 0; i < found; i++) {
            lock.lock();
            try {
                int pfn = candidates[i];
                int info = descriptors.info(pfn);
                // It may have been taken, or merged, since the scan: check again.
                if (!retired && PageDescriptors.state(info) == FREE && PageDescriptors.order(info) >= pageblockOrder
                        && isIdleLocked(pfn, epoch, decayEpochs)) {
                    int frames = 1 << PageDescriptors.order(info);
                    if (region.discard(pfn, frames)) {
                        descriptors.setFreeSince(pfn, descriptors.freeSince(pfn) | PageDescriptors.PURGED);
                        purgedFrames += frames;
                        purged += frames;
                    }
                }
            } finally {
                lock.unlock();
            }
        }
        return purged;
    }

    /** Whether the large free block at pfn is not purged and has been free for decayEpochs passes, modulo 2^31. */
    private boolean isIdleLocked(int pfn, int epoch, int decayEpochs) {
        int stamp = descriptors.freeSince(pfn);
        return (stamp & PageDescriptors.PURGED) == 0 && ((epoch - stamp) & ~PageDescriptors.PURGED) >= decayEpochs;
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
        for (long[] ofType : freeBlocksPerTypeAndOrder()) {
            for (int order = 0; order <= maxOrder; order++) {
                blocks[order] += ofType[order];
            }
        }
        return blocks;
    }

    /**
     * The number of free blocks of each lifetime type and order, for /proc/pagetypeinfo:
     * {@code result[type][order]}, with untouched frames as their blocks in row
     * {@link Lifetimes#COUNT} (they belong to no type yet).
     */
    public long[][] freeBlocksPerTypeAndOrder() {
        long[][] blocks = new long[Lifetimes.COUNT + 1][maxOrder + 1];
        lock.lock();
        try {
            for (int type = 0; type < Lifetimes.COUNT; type++) {
                for (int order = 0; order <= maxOrder; order++) {
                    blocks[type][order] = freeLists.count(order, type);
                }
            }
            // Carving takes the largest aligned block at each step, so the untouched frames split
            // into max-order blocks plus one block per set bit of the remainder below max order.
            long untouched = endPfn - untouchedPfn;
            blocks[Lifetimes.COUNT][maxOrder] = untouched >>> maxOrder;
            for (int order = 0; order < maxOrder; order++) {
                blocks[Lifetimes.COUNT][order] = (untouched >>> order) & 1;
            }
        } finally {
            lock.unlock();
        }
        return blocks;
    }

    /**
     * The number of pageblocks of each lifetime type, with the untouched ones (of no type yet) at
     * index {@link Lifetimes#COUNT}: pagetypeinfo's "Number of blocks type".
     */
    public long[] pageblocksPerType() {
        long[] counts = new long[Lifetimes.COUNT + 1];
        int pageblock = 1 << pageblockOrder;
        lock.lock();
        try {
            for (int start = startPfn; start < untouchedPfn; start += pageblock) {
                counts[descriptors.pageblockType(start)]++;
            }
            long firstUntouched = (untouchedPfn + pageblock - 1L) & -pageblock; // past a pageblock begun near the end
            counts[Lifetimes.COUNT] = Math.max(0, (endPfn - firstUntouched + pageblock - 1) / pageblock);
        } finally {
            lock.unlock();
        }
        return counts;
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

    /**
     * Free frames an ordinary allocation may use, what the watermarks are checked against: the
     * free frames without the free blocks of the reserve, which only critical allocations take
     * until {@link #unreserve} gives it back (the kernel's {@code __zone_watermark_unusable_free}
     * leaves out {@code nr_reserved_highatomic} the same way).
     */
    public long usableFreeFrames() {
        lock.lock();
        try {
            return usableFreeLocked();
        } finally {
            lock.unlock();
        }
    }

    private long usableFreeLocked() {
        return freeFrames - freeLists.frames(Lifetimes.RESERVE);
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

    public int pageblockOrder() {
        return pageblockOrder;
    }

    public boolean groupsByLifetime() {
        return groupByLifetime;
    }

    /** The type of the pageblock that holds {@code pfn}. Caller holds the lock or the zone is quiescent. */
    public int pageblockType(int pfn) {
        return pageblockTypeOf(pfn);
    }

    /**
     * The zone's event counters at one moment, for reports (vmstat's and zoneinfo's).
     *
     * @param allocations          blocks handed out by the zone itself, not through a per-thread cache
     * @param frees                blocks freed to the zone itself, not through a per-thread cache
     * @param fallbacks            allocations served from another lifetime's memory
     * @param pageblocksClaimed    pageblocks that changed lifetime to serve an allocation
     * @param minWatermarkRefusals ordinary allocations (and refills) refused at the min watermark
     * @param purgedFrames         frames handed back to the operating system
     * @param reservedPageblocks   pageblocks in the reserve for critical allocations now
     */
    public record Counters(long allocations, long frees, long fallbacks, long pageblocksClaimed, long minWatermarkRefusals, long purgedFrames,
                           int reservedPageblocks) {
    }

    /** The counters, read under the lock. */
    public Counters counters() {
        lock.lock();
        try {
            return new Counters(allocations, frees, fallbacks, pageblocksClaimed, minWatermarkRefusals, purgedFrames, reservedPageblocks);
        } finally {
            lock.unlock();
        }
    }

    public Watermarks watermarks() {
        return watermarks;
    }

    /**
     * Sets what an allocation runs when it leaves the zone below its low watermark (the kernel's
     * {@code wakeup_kswapd}): something quick that wakes the reclaimer, run outside the lock.
     */
    public void onLowWatermark(Runnable wakeup) {
        lock.lock();
        try {
            this.lowWatermarkWakeup = java.util.Objects.requireNonNull(wakeup, "wakeup");
        } finally {
            lock.unlock();
        }
    }

    /** Frames spanned by the zone. */
    public long managedFrames() {
        return endPfn - startPfn;
    }
}
