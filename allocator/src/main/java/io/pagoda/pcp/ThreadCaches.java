package io.pagoda.pcp;

import io.pagoda.buddy.Lifetimes;
import io.pagoda.buddy.Zone;
import io.pagoda.region.PageDescriptors;

import java.util.ArrayList;
import java.util.List;

import static io.pagoda.region.PageDescriptors.ALLOCATED;
import static io.pagoda.region.PageDescriptors.CACHED;
import static io.pagoda.region.PageDescriptors.NO_FRAME;

/**
 * The per-thread page caches in front of one zone: the kernel's per-CPU page lists
 * ({@code per_cpu_pages}), kept per thread.
 *
 * <h2>Fast path</h2>
 * A block of a cached order (0 to {@code cachedOrders - 1}) is allocated by popping the calling
 * thread's cache and freed by pushing on it, whichever thread allocated it: a server's worker that
 * frees what an I/O thread allocated pays what the I/O thread pays. Neither takes a lock or a CAS
 * on a platform thread, nor allocates an object; each touches the thread's cache and the block's
 * descriptor only.
 *
 * <h2>Batching</h2>
 * An empty cache is refilled with {@code batch} blocks under one zone-lock acquisition
 * ({@link Zone#rmqueueBulk}, the kernel's {@code rmqueue_bulk}); a cache above {@code high}
 * blocks gives its {@code batch} coldest back under one acquisition ({@link Zone#freeBulk},
 * {@code free_pcppages_bulk}). So the zone lock is taken once per {@code batch} operations, and no
 * cache grows past {@code high}, whatever the balance of allocations and frees on its thread.
 * Between the caches and the zone sits a bounded {@link Depot} of full batches: a batch given
 * back waits there for a cache that runs empty, so that a thread that only frees feeds one that
 * only allocates without a merge and a split in the zone for every block.
 *
 * <h2>Getting the pages back</h2>
 * {@link #drainAll()} (the kernel's {@code drain_all_pages}) takes every cache's blocks back to
 * the zone, including the caches of threads that are blocked or idle forever, through the
 * protocol of {@link OwnedCache}. An allocation that finds its cache and the zone empty does not
 * drain: it returns nothing, and the allocator tries the other nodes' zones first and drains only
 * in its slow path, as the kernel's {@code __alloc_pages_slowpath} does, once for the whole
 * attempt. {@link #reap} returns the caches of dead threads, and those idle
 * for longer than the idle timeout; a {@link CacheReaper} calls it periodically. Which cache is a
 * thread's, and the protocol, are the {@link CacheRegistry}'s.
 *
 * <h2>Virtual threads</h2>
 * They do not get caches of their own: they share the registry's {@link SharedCache} stripes,
 * each guarded by a try-lock; a virtual thread that finds its stripe busy goes to the zone.
 *
 * <h2>Accounting</h2>
 * Cached blocks are out of the zone's free lists (the zone counts them as handed out) and marked
 * CACHED in their descriptors, so the buddy system never merges them and a double free is caught
 * when the two frees are ordered (one happens-before the other, as in any correct program's
 * hand-off). Two frees of one block racing on two threads are a data race in the caller; the
 * fast path has no CAS to catch them, and one of the checks in the zone may throw later.
 * At every quiescent point: zone free frames + {@link #cachedFrames()} + frames held by users =
 * frames managed.
 */
public final class ThreadCaches {

    /** The caches hold short-lived blocks only; other types go to the zone. */
    private static final int LIFETIME = Lifetimes.SHORT_LIVED;
    /**
     * Full batches the depot keeps per order: with the largest default batch (64 frames), at most
     * 2 MiB per order waits there between a thread that frees and one that allocates.
     */
    private static final int DEPOT_BATCHES = 8;

    private final Zone zone;
    private final PageDescriptors descriptors;
    private final int cachedOrders;
    private final int[] batch;
    private final int[] high;
    private final long idleNanos;
    private final Depot depot;
    private final CacheRegistry<CacheStacks> registry;

    /**
     * @param cachedOrders orders 0 to cachedOrders - 1 are cached; at least 1
     * @param batchFrames  frames moved per bulk refill or drain (per order: batchFrames >> order, at least 1)
     * @param highFrames   frames a cache holds at most per order (per order: highFrames >> order,
     *                     at least the order's batch)
     * @param idleNanos    how long a cache may sit unused before {@link #reap} empties it
     */
    public ThreadCaches(Zone zone, int cachedOrders, int batchFrames, int highFrames, long idleNanos) {
        if (cachedOrders < 1 || cachedOrders > zone.maxOrder() + 1) {
            throw new IllegalArgumentException("cachedOrders " + cachedOrders + " outside [1, " + (zone.maxOrder() + 1) + "]");
        }
        if (batchFrames < 1 || highFrames < batchFrames) {
            throw new IllegalArgumentException("need 1 <= batch <= high: batch " + batchFrames + ", high " + highFrames);
        }
        this.zone = zone;
        this.descriptors = zone.descriptors();
        this.cachedOrders = cachedOrders;
        this.batch = new int[cachedOrders];
        this.high = new int[cachedOrders];
        for (int order = 0; order < cachedOrders; order++) {
            batch[order] = Math.max(1, batchFrames >> order);
            high[order] = Math.max(batch[order], highFrames >> order);
        }
        this.idleNanos = idleNanos;
        this.depot = new Depot(batch, DEPOT_BATCHES);
        this.registry = new CacheRegistry<>(new PageKeeper(), idleNanos);
    }

    /** What the registry needs to know of page stacks. */
    private final class PageKeeper implements CacheRegistry.Keeper<CacheStacks> {
        @Override
        public CacheStacks newCache(Thread owner) {
            return new CacheStacks(high, batch[0], owner);
        }

        @Override
        public void empty(CacheStacks stacks) {
            emptyLocked(stacks);
        }

        @Override
        public boolean holdsAny(CacheStacks stacks) {
            return stacks.framesHeld() > 0;
        }

        @Override
        public CacheSnapshot snapshot(String name, CacheStacks stacks) {
            return stacks.snapshot(name, stacks.framesHeld());
        }
    }

    /**
     * The kernel's batch size rule, in frames: a quarter of the zone's frames / 1024, at most a
     * quarter of 1 MiB of 4 KiB frames (64), at least 1. A 4 GiB zone of 4 KiB frames gets 64.
     */
    public static int defaultBatchFrames(long zoneFrames) {
        return (int) Math.max(1, Math.min(zoneFrames >> 10, 256) >> 2);
    }

    /** Four batches: a cache holds at most 1 MiB per order with the largest default batch. */
    public static int defaultHighFrames(int batchFrames) {
        return 4 * batchFrames;
    }

    /** Orders 0 to {@code cachedOrders() - 1} go through the caches. */
    public int cachedOrders() {
        return cachedOrders;
    }

    /**
     * Allocates a block of a cached order from the calling thread's cache, refilling it from the
     * zone when empty. Other threads' caches are not touched: when the zone is empty too (or at
     * its min watermark), draining them is the caller's slow path ({@link #drainAll}).
     *
     * @return the head pfn, or NO_FRAME if neither the cache nor the zone has a block
     */
    public int allocate(int order) {
        // Fast path: the calling platform thread's own cache, found in the thread-id table.
        CacheStacks cache = registry.tabledCache(Thread.currentThread());
        if (cache != null && cache.enter()) {
            int pfn;
            try {
                pfn = takeFrom(cache, order);
            } finally {
                cache.exit();
            }
            // The block left the stacks: its descriptor is ours to write, outside the operation.
            return pfn != NO_FRAME ? handOut(pfn, order) : NO_FRAME;
        }
        return allocateSlow(order);
    }

    /**
     * Everything but the fast path, kept out of it so that it stays small enough to inline: a
     * virtual thread's shared cache, a platform thread not in the table (registering it on first
     * use) or a cache that a drainer holds.
     */
    private int allocateSlow(int order) {
        Thread thread = Thread.currentThread();
        int pfn;
        if (thread.isVirtual()) {
            SharedCache<CacheStacks> cache = registry.sharedCache(thread);
            if (!cache.tryLock()) {
                return zone.allocate(order, LIFETIME); // the stripe is busy: straight from the zone
            }
            try {
                cache.operations++;
                pfn = takeFrom(cache.stacks(), order);
            } finally {
                cache.unlock();
            }
        } else {
            CacheStacks cache = registry.ownedCache();
            if (!cache.enter()) {
                return zone.allocate(order, LIFETIME); // a drainer holds our stacks
            }
            try {
                pfn = takeFrom(cache, order);
            } finally {
                cache.exit();
            }
        }
        return pfn != NO_FRAME ? handOut(pfn, order) : NO_FRAME;
    }

    /** Marks a block taken from a cache as handed out. */
    private int handOut(int pfn, int order) {
        descriptors.setInfo(pfn, PageDescriptors.info(ALLOCATED, order, LIFETIME));
        return pfn;
    }

    /** The kernel's {@code rmqueue_pcplist}: pop, or refill a batch and take one. Caller holds the stacks. */
    private int takeFrom(CacheStacks stacks, int order) {
        int pfn = stacks.pop(order);
        if (pfn != NO_FRAME) {
            return pfn; // a hit: derived by hits(), not counted here
        }
        stacks.countMiss();
        return refill(stacks, order);
    }

    /**
     * Takes a batch, from the depot if it has one, else from the zone: keeps all but the first,
     * which it returns (CACHED, not yet ALLOCATED).
     */
    private int refill(CacheStacks stacks, int order) {
        int[] taken = stacks.scratch;
        int count = depot.take(order, taken);
        if (count == 0) {
            count = zone.rmqueueBulk(order, LIFETIME, taken, batch[order]);
        }
        if (count == 0) {
            return NO_FRAME;
        }
        stacks.countRefill();
        for (int i = count - 1; i > 0; i--) {
            stacks.pushRefilled(order, taken[i]); // the lowest block ends on top: handed out first
        }
        return taken[0];
    }

    /**
     * Frees a block of a cached order into the calling thread's cache, giving a batch of the
     * coldest back when the cache is above high. A frame that is not the head of an allocated
     * block of that order changes nothing.
     *
     * @return {@link Zone#FREED}, or the info word found at {@code pfn}
     */
    public int free(int pfn, int order) {
        if (descriptors.info(pfn) != PageDescriptors.info(ALLOCATED, order, LIFETIME)) {
            // Blocks of other lifetimes bypass the caches; the zone frees them, or refuses what is
            // not an allocated block of that order (and says what it found) as the caches would.
            return zone.free(pfn, order);
        }
        pushFreed(pfn, order);
        return Zone.FREED;
    }

    /**
     * Frees the block whose head is {@code pfn} into the calling thread's cache if it is an
     * allocated short-lived block of a cached order, at least {@code minOrder}: a free by address
     * alone, which reads the head's descriptor once. Anything else changes nothing.
     *
     * @return whether the block was freed; if not, the caller frees it the long way, or refuses it
     */
    public boolean freeIfCached(int pfn, int minOrder) {
        int info = descriptors.info(pfn);
        int order = PageDescriptors.order(info);
        if (order < minOrder || order >= cachedOrders || info != PageDescriptors.info(ALLOCATED, order, LIFETIME)) {
            return false;
        }
        pushFreed(pfn, order);
        return true;
    }

    /** The kernel's {@code free_unref_page}, once the head is checked: mark it cached, push it. */
    private void pushFreed(int pfn, int order) {
        // The block is the caller's until pushed, so its descriptor is written outside the operation.
        descriptors.setInfo(pfn, PageDescriptors.info(CACHED, order, LIFETIME));
        CacheStacks cache = registry.tabledCache(Thread.currentThread());
        if (cache != null && cache.enter()) {
            try {
                push(cache, pfn, order);
            } finally {
                cache.exit();
            }
            return;
        }
        freeSlow(pfn, order);
    }

    /** The free's counterpart of {@link #allocateSlow}, for a block already marked CACHED. */
    private void freeSlow(int pfn, int order) {
        Thread thread = Thread.currentThread();
        if (thread.isVirtual()) {
            SharedCache<CacheStacks> cache = registry.sharedCache(thread);
            if (!cache.tryLock()) {
                zone.freeCached(pfn, order);
                return;
            }
            try {
                cache.operations++;
                push(cache.stacks(), pfn, order);
            } finally {
                cache.unlock();
            }
            return;
        }
        CacheStacks cache = registry.ownedCache();
        if (!cache.enter()) {
            zone.freeCached(pfn, order); // a drainer holds our stacks
            return;
        }
        try {
            push(cache, pfn, order);
        } finally {
            cache.exit();
        }
    }

    /** Pushes a CACHED block; above high, gives the coldest batch back. Caller holds the stacks. */
    private void push(CacheStacks stacks, int pfn, int order) {
        stacks.countFree();
        if (stacks.pushAboveHigh(order, pfn)) {
            giveBackBatch(stacks, order);
        }
    }

    /** The kernel's {@code free_pcppages_bulk}, with the depot first: once per batch of frees. */
    private void giveBackBatch(CacheStacks stacks, int order) {
        stacks.takeOldest(order, batch[order], stacks.scratch);
        stacks.countDrain();
        if (!depot.offer(order, stacks.scratch)) {
            zone.freeBulk(stacks.scratch, 0, batch[order], order);
        }
    }

    /**
     * The kernel's {@code drain_all_pages}: gives every cache's blocks back to the zone, the
     * caller's own included, whether their owners are running, blocked, idle or dead; then the
     * depot's. Must not be called from inside a cache operation.
     */
    public void drainAll() {
        registry.whileDrainsPaused(() -> {
            registry.drainAllLocked();
            emptyDepotLocked();
        });
    }

    /** Gives every batch in the depot back to the zone. */
    private void emptyDepotLocked() {
        int[] into = new int[batch[0]];
        for (int order = 0; order < depot.orders(); order++) {
            for (int n = depot.take(order, into); n > 0; n = depot.take(order, into)) {
                zone.freeBulk(into, 0, n, order);
            }
        }
    }

    /** Gives back every block of the stacks, a scratch-full at a time. Caller holds the stacks. */
    private void emptyLocked(CacheStacks stacks) {
        boolean any = false;
        for (int order = 0; order < stacks.orders(); order++) {
            for (int count = stacks.count(order); count > 0; count = stacks.count(order)) {
                int n = Math.min(count, stacks.scratch.length);
                stacks.takeOldest(order, n, stacks.scratch);
                zone.freeBulk(stacks.scratch, 0, n, order);
                any = true;
            }
        }
        if (any) {
            stacks.countDrain();
        }
    }

    /**
     * Housekeeping, called periodically by a {@link CacheReaper}: returns the caches of threads
     * that have died, and empties caches and the depot when unused for longer than the idle timeout.
     *
     * @param now the current {@link System#nanoTime()}
     */
    public void reap(long now) {
        registry.whileDrainsPaused(() -> {
            registry.reapLocked(now);
            int depotOperations = depot.operations; // racy read: a hint of work to do
            if (depotOperations != depot.reaperOperations) {
                depot.reaperOperations = depotOperations;
                depot.reaperIdleSince = now;
            } else if (now - depot.reaperIdleSince >= idleNanos) {
                emptyDepotLocked();
            }
        });
    }

    /** Frames held by all caches and the depot: racy while threads run, exact at quiescent points. */
    public long cachedFrames() {
        return registry.sum(CacheStacks::framesHeld) + depot.framesHeld();
    }

    /** Each live cache's counters: the owner thread's name, or "shared-N"; and "depot", which only holds. */
    public List<CacheSnapshot> snapshots() {
        List<CacheSnapshot> snapshots = new ArrayList<>(registry.snapshots());
        snapshots.add(depotSnapshot());
        return snapshots;
    }

    private CacheSnapshot depotSnapshot() {
        return new CacheSnapshot("depot", 0, 0, 0, 0, 0, depot.framesHeld());
    }

    /** The sum over all caches, live and retired, and the depot, named "total". */
    public CacheSnapshot total() {
        return registry.total().plus(depotSnapshot());
    }

    /**
     * Runs {@code audit} while no drainer (reaper, trim, drainAll) can move blocks: the caller's
     * own threads must be quiescent too. For invariant checks.
     */
    public void whileDrainsPaused(Runnable audit) {
        registry.whileDrainsPaused(audit);
    }

    /** Visits every cached block. Only at a quiescent point (no thread inside a cache operation). */
    public void forEachCachedBlock(BlockVisitor visitor) {
        registry.forEach(stacks -> stacks.forEach(visitor));
        depot.forEach(visitor);
    }
}
