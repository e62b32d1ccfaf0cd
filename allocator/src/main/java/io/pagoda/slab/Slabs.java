package io.pagoda.slab;

import io.pagoda.pcp.CacheRegistry;
import io.pagoda.pcp.CacheSnapshot;
import io.pagoda.pcp.SharedCache;
import io.pagoda.region.PageDescriptors;

import java.lang.foreign.MemorySegment;
import java.security.SecureRandom;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * The small-object layer: objects of 16 bytes to a few pages, cut from slabs, handed out through
 * per-thread magazines (the kernel's SLUB, with Bonwick's magazines in front of it as its per-CPU
 * slabs). Objects are named by their offset in the region.
 *
 * <h2>Fast path</h2>
 * Allocating pops the calling thread's magazine of the object's class; freeing pushes on the
 * freeing thread's, whichever thread allocated it. Neither takes a lock or a CAS on a platform
 * thread, nor allocates a Java object; the magazines are per-thread caches of a
 * {@link CacheRegistry}, under the same drain protocol as the page caches, so that drains, idle
 * timeouts, dead threads and virtual threads work as they do there. An empty magazine takes a
 * batch from its {@link SlabClass} under one lock acquisition; a magazine above its high mark gives
 * a batch back. Neither happens inside an operation on the magazines: filling a slab may wait for
 * the page allocator, which may drain caches, and a drainer must never wait for a thread that
 * waits for it.
 *
 * <h2>Validating a free from the address alone</h2>
 * The frame's descriptor says whether the address lies in a slab, and of which class; Lemire's
 * division ({@link SizeClasses}) says whether it is an object's first byte. A double free is
 * caught by the free marker: a free object holds {@code secret ^ offset} in its first 8 bytes (the
 * secret is random per allocator), written when it is freed and cleared when it is handed out.
 * Like the page caches' descriptor states this catches every double free ordered after the first
 * (the usual bug), not two frees racing on two threads, and not a double free after a use after
 * free overwrote the marker; the debug mode catches those.
 */
public final class Slabs {

    /** Result of {@link #free}: the object is back in a magazine or its slab. */
    public static final int FREED = 0;
    /** Result of {@link #free}: the address is in no slab (it may be a page block's). */
    public static final int NOT_IN_A_SLAB = 1;
    /** Result of {@link #free}: the address is inside a slab but is no object's first byte. */
    public static final int NOT_AN_OBJECT = 2;
    /** Result of {@link #free}: the object is free already. */
    public static final int ALREADY_FREE = 3;
    /** Result of {@link #free}: the size freed is larger than the object. */
    public static final int TOO_LARGE = 4;

    /** Returned by {@link #allocate} when the page allocator has no block for a new slab. */
    public static final long NO_OBJECT = -1;

    /** In the slab word: bits 0-7 hold the class + 1, the bits above the frame's index in its slab. */
    static final int FRAME_INDEX_SHIFT = 8;
    private static final int CLASS_MASK = (1 << FRAME_INDEX_SHIFT) - 1;
    /** Empty slabs a class keeps: see {@link SlabClass}. */
    private static final int KEEP_EMPTY = 2;
    /** Bytes a magazine holds at most per class, and its bounds in objects. */
    private static final long MAGAZINE_BYTES = 32 * 1024;
    private static final int MAGAZINE_MIN = 8;
    private static final int MAGAZINE_MAX = 128;
    /** Longs per class in {@link #freeChecks}. */
    private static final int CHECK_STRIDE = 3;

    /** The free marker: {@code secret ^ offset} (see the class comment). */
    static final class Marker {
        private final long secret;

        Marker(long secret) {
            this.secret = secret;
        }

        long of(long offset) {
            return secret ^ offset;
        }
    }

    private final SizeClasses classes;
    private final SlabClass[] slabClasses;
    private final PageDescriptors descriptors;
    private final MemorySegment memory;
    private final int pageShift;
    private final Marker marker;
    /**
     * What a free checks, by class, side by side in one array ({@code CHECK_STRIDE} longs per
     * class): the magic of {@link SizeClasses}, the bytes the slab's objects span, the object size.
     */
    private final long[] freeChecks;
    private final int[] batch;
    private final int[] high;
    private final CacheRegistry<Magazines> registry;

    /**
     * @param memory      the whole region: objects are offsets into it
     * @param frames      where slabs get their blocks
     * @param idleNanos   how long a magazine may sit unused before the reaper empties it
     */
    public Slabs(SizeClasses classes, PageDescriptors descriptors, MemorySegment memory, int pageShift,
                 FrameSource frames, long idleNanos) {
        this.classes = classes;
        this.descriptors = descriptors;
        this.memory = memory;
        this.pageShift = pageShift;
        this.marker = new Marker(new SecureRandom().nextLong() | 1);
        int count = classes.count();
        this.slabClasses = new SlabClass[count];
        this.freeChecks = new long[count * CHECK_STRIDE];
        this.batch = new int[count];
        this.high = new int[count];
        int largestBatch = 1;
        for (int c = 0; c < count; c++) {
            if (!classes.isSlab(c)) {
                continue; // served as page blocks: no slabs, no magazine
            }
            slabClasses[c] = new SlabClass(c, classes, pageShift, KEEP_EMPTY, descriptors, memory, frames, marker);
            freeChecks[c * CHECK_STRIDE] = classes.magic(c);
            freeChecks[c * CHECK_STRIDE + 1] = (long) classes.objects(c) * classes.size(c);
            freeChecks[c * CHECK_STRIDE + 2] = classes.size(c);
            high[c] = (int) Math.clamp(MAGAZINE_BYTES / classes.size(c), MAGAZINE_MIN, MAGAZINE_MAX);
            batch[c] = high[c] / 2;
            largestBatch = Math.max(largestBatch, batch[c]);
        }
        int scratch = largestBatch;
        this.registry = new CacheRegistry<>(new MagazineKeeper(scratch), idleNanos);
    }

    /** What the registry needs to know of magazines. */
    private final class MagazineKeeper implements CacheRegistry.Keeper<Magazines> {
        private final int scratch;

        MagazineKeeper(int scratch) {
            this.scratch = scratch;
        }

        @Override
        public Magazines newCache(Thread owner) {
            return new Magazines(high, scratch, owner);
        }

        @Override
        public void empty(Magazines magazines) {
            emptyLocked(magazines);
        }

        @Override
        public boolean holdsAny(Magazines magazines) {
            return magazines.bytesHeld(classes) > 0;
        }

        @Override
        public CacheSnapshot snapshot(String name, Magazines magazines) {
            return magazines.snapshot(name, magazines.bytesHeld(classes));
        }
    }

    /** The size classes. */
    public SizeClasses classes() {
        return classes;
    }

    /**
     * Allocates an object of a slab class.
     *
     * @return its offset in the region, or {@link #NO_OBJECT} if no block is left for a new slab
     */
    public long allocate(int sizeClass) {
        Magazines cache = registry.tabledCache(Thread.currentThread());
        return cache != null && cache.enter() ? allocateEntered(cache, sizeClass) : allocateSlow(sizeClass);
    }

    /**
     * {@link #allocate}, except that a platform thread with no magazines here yet takes one object
     * straight from the slabs instead of making them: for a walk past nodes that may well be full,
     * where magazines made on every node passed would hold heap for nothing. A thread gets its
     * magazines here with its first free here, or its first allocation where its walk starts.
     */
    public long allocateWithoutNewMagazines(int sizeClass) {
        Thread thread = Thread.currentThread();
        Magazines cache = registry.tabledCache(thread);
        if (cache != null && cache.enter()) {
            return allocateEntered(cache, sizeClass);
        }
        return thread.isVirtual() ? allocateSlow(sizeClass) : takeOne(sizeClass); // stripes are made once, bounded
    }

    /** Pops the owner's magazine, inside the operation its caller entered; refills it outside. */
    private long allocateEntered(Magazines cache, int sizeClass) {
        long offset;
        try {
            offset = take(cache, sizeClass);
        } finally {
            cache.exit();
        }
        // The object left the magazine: it is ours to write, outside the operation.
        return offset >= 0 ? handOut(offset) : refill(cache, sizeClass);
    }

    private long take(Magazines magazines, int sizeClass) {
        long offset = magazines.pop(sizeClass);
        if (offset < 0) {
            magazines.countMiss();
        }
        return offset; // a hit, if any, is derived by hits(), not counted here
    }

    /** Clears the free marker: the object is the user's. */
    private long handOut(long offset) {
        memory.set(JAVA_LONG_UNALIGNED, offset, 0L);
        return offset;
    }

    /** Everything but the fast path: a virtual thread's stripe, a thread not yet in the table, a drained cache. */
    private long allocateSlow(int sizeClass) {
        Thread thread = Thread.currentThread();
        if (thread.isVirtual()) {
            SharedCache<Magazines> cache = registry.sharedCache(thread);
            if (!cache.tryLock()) {
                return takeOne(sizeClass);
            }
            long offset;
            try {
                cache.operations++;
                offset = take(cache.stacks(), sizeClass);
                if (offset < 0) {
                    offset = refillLocked(cache.stacks(), sizeClass); // the stripe's lock is ours: fill it in place
                }
            } finally {
                cache.unlock();
            }
            return offset >= 0 ? handOut(offset) : NO_OBJECT;
        }
        Magazines cache = registry.ownedCache();
        // When a drainer holds our magazines, one object straight from the slabs.
        return cache.enter() ? allocateEntered(cache, sizeClass) : takeOne(sizeClass);
    }

    /**
     * The owner's empty magazine: takes a batch from the slabs outside any operation, then keeps
     * all but the first, which it hands out. If a drainer took the magazines meanwhile, the rest
     * go straight back.
     */
    private long refill(Magazines cache, int sizeClass) {
        long[] taken = cache.scratch;
        int n = slabClasses[sizeClass].take(taken, batch[sizeClass]);
        if (n == 0) {
            return NO_OBJECT;
        }
        if (n > 1) {
            if (cache.enter()) {
                try {
                    pushAll(cache, sizeClass, taken, n);
                } finally {
                    cache.exit();
                }
            } else {
                slabClasses[sizeClass].giveBack(taken, 1, n - 1);
            }
        }
        return handOut(taken[0]);
    }

    /** A shared stripe's empty magazine, filled under the stripe's lock. Returns the object kept out. */
    private long refillLocked(Magazines magazines, int sizeClass) {
        long[] taken = magazines.scratch;
        int n = slabClasses[sizeClass].take(taken, batch[sizeClass]);
        if (n == 0) {
            return NO_OBJECT;
        }
        pushAll(magazines, sizeClass, taken, n);
        return taken[0];
    }

    private static void pushAll(Magazines magazines, int sizeClass, long[] taken, int n) {
        magazines.countRefill();
        for (int i = n - 1; i > 0; i--) {
            magazines.pushRefilled(sizeClass, taken[i]); // the lowest object ends on top: handed out first
        }
    }

    /**
     * One object straight from its slab class, when the magazine is busy or was not made (a walk
     * past full nodes): without an array, since it may be every object a thread allocates.
     */
    private long takeOne(int sizeClass) {
        long offset = slabClasses[sizeClass].takeOne();
        return offset >= 0 ? handOut(offset) : NO_OBJECT;
    }

    /**
     * Frees an object, from its offset alone. Anything that is not an allocated object's first
     * byte changes nothing.
     *
     * @param offset   the object's offset in the region
     * @param byteSize the size freed: at most the object's
     * @return {@link #FREED}, or why not: {@link #NOT_IN_A_SLAB}, {@link #NOT_AN_OBJECT},
     *         {@link #ALREADY_FREE}, {@link #TOO_LARGE}
     */
    public int free(long offset, long byteSize) {
        int checked = check(offset, byteSize);
        if (checked < 0) {
            return -checked;
        }
        // The object is still the caller's until pushed: mark it outside the operation.
        memory.set(JAVA_LONG_UNALIGNED, offset, marker.of(offset));
        Magazines cache = registry.tabledCache(Thread.currentThread());
        if (cache != null && cache.enter()) {
            freeEntered(cache, checked, offset);
        } else {
            freeSlow(offset, checked);
        }
        return FREED;
    }

    /**
     * What {@link #free} would find at an offset, changing nothing: the object's size class, or
     * minus the reason it would refuse ({@link #NOT_IN_A_SLAB}, {@link #NOT_AN_OBJECT},
     * {@link #TOO_LARGE}, {@link #ALREADY_FREE}).
     */
    public int check(long offset, long byteSize) {
        int pfn = (int) (offset >>> pageShift);
        int word = descriptors.slab(pfn);
        if (word == 0) {
            return -NOT_IN_A_SLAB;
        }
        int sizeClass = (word & CLASS_MASK) - 1;
        // Lemire: within is a multiple of the size iff magic * within <= magic - 1 (unsigned); and
        // it is an object's, not the slab's leftover tail's, iff it is below the objects' span.
        long within = offset - ((long) (pfn - (word >>> FRAME_INDEX_SHIFT)) << pageShift);
        long[] checks = freeChecks;
        int at = sizeClass * CHECK_STRIDE;
        long m = checks[at];
        if (Long.compareUnsigned(m * within, m - 1) > 0 || within >= checks[at + 1]) {
            return -NOT_AN_OBJECT;
        }
        if (byteSize > checks[at + 2]) {
            return -TOO_LARGE;
        }
        if (memory.get(JAVA_LONG_UNALIGNED, offset) == marker.of(offset)) {
            return -ALREADY_FREE;
        }
        return sizeClass;
    }

    /** Pushes on the owner's magazine, inside the operation its caller entered; gives a batch back outside. */
    private void freeEntered(Magazines cache, int sizeClass, long offset) {
        boolean over;
        try {
            over = push(cache, sizeClass, offset);
        } finally {
            cache.exit();
        }
        if (over) {
            slabClasses[sizeClass].giveBack(cache.scratch, 0, batch[sizeClass]);
        }
    }

    /**
     * Pushes a marked object; above high, moves the coldest batch to the scratch and returns true:
     * the caller gives it back to the slabs once outside the operation.
     */
    private boolean push(Magazines magazines, int sizeClass, long offset) {
        magazines.countFree();
        if (!magazines.pushAboveHigh(sizeClass, offset)) {
            return false;
        }
        magazines.takeOldest(sizeClass, batch[sizeClass], magazines.scratch);
        magazines.countDrain();
        return true;
    }

    private void freeSlow(long offset, int sizeClass) {
        Thread thread = Thread.currentThread();
        if (thread.isVirtual()) {
            SharedCache<Magazines> cache = registry.sharedCache(thread);
            if (!cache.tryLock()) {
                slabClasses[sizeClass].giveBackOne(offset);
                return;
            }
            try {
                cache.operations++;
                Magazines magazines = cache.stacks();
                if (push(magazines, sizeClass, offset)) {
                    slabClasses[sizeClass].giveBack(magazines.scratch, 0, batch[sizeClass]);
                }
            } finally {
                cache.unlock();
            }
            return;
        }
        Magazines cache = registry.ownedCache();
        if (cache.enter()) {
            freeEntered(cache, sizeClass, offset);
        } else {
            slabClasses[sizeClass].giveBackOne(offset); // a drainer holds our magazines
        }
    }

    /** Gives every object of the magazines back to its slab. The caller holds them; their scratch is not the drainer's. */
    private void emptyLocked(Magazines magazines) {
        boolean any = false;
        for (int c = 0; c < magazines.classes(); c++) {
            int count = magazines.count(c);
            if (count > 0) {
                long[] into = new long[count];
                magazines.takeOldest(c, count, into);
                slabClasses[c].giveBack(into, 0, count);
                any = true;
            }
        }
        if (any) {
            magazines.countDrain();
        }
    }

    /**
     * Gives back everything the small-object layer holds that no user does: every magazine's
     * objects (even those of blocked threads, through the drain protocol) and every empty slab.
     * Must not be called from inside a magazine operation.
     */
    public void shrink() {
        registry.whileDrainsPaused(registry::drainAllLocked);
        for (SlabClass slabClass : slabClasses) {
            if (slabClass != null) {
                slabClass.releaseEmpty();
            }
        }
    }

    /** Bytes of the empty slabs the classes keep (their hysteresis): what {@link #releaseEmptySlabs} would give back. */
    public long emptySlabBytes() {
        return sumOverClasses(c -> slabClasses[c].counts().emptySlabs() * classes.slabBytes(c));
    }

    /**
     * Gives every empty slab back to the page allocator, magazines untouched: the slab layer's
     * shrinker, which the reclaimer may call under memory pressure.
     *
     * @return the bytes of the slabs given back
     */
    public long releaseEmptySlabs() {
        long before = emptySlabBytes();
        for (SlabClass slabClass : slabClasses) {
            if (slabClass != null) {
                slabClass.releaseEmpty();
            }
        }
        return Math.max(0, before - emptySlabBytes());
    }

    /**
     * Housekeeping, called periodically by the cache reaper: returns dead threads' magazines and
     * empties those idle for longer than the idle timeout.
     */
    public void reap(long now) {
        registry.whileDrainsPaused(() -> registry.reapLocked(now));
    }

    /** Bytes in the objects all magazines hold: racy while threads run, exact at quiescent points. */
    public long cachedBytes() {
        return registry.sum(magazines -> magazines.bytesHeld(classes));
    }

    /** Bytes of the blocks all slabs occupy. */
    public long slabBytes() {
        return sumOverClasses(c -> slabClasses[c].counts().slabs() * classes.slabBytes(c));
    }

    /** Bytes of the objects out of the slabs, in magazines or with users. */
    public long objectBytesOut() {
        return sumOverClasses(c -> slabClasses[c].counts().objectsOut() * classes.size(c));
    }

    /** The sum over the classes served by slabs of {@code perClass}, by class. */
    private long sumOverClasses(java.util.function.IntToLongFunction perClass) {
        long sum = 0;
        for (int c = 0; c < slabClasses.length; c++) {
            if (slabClasses[c] != null) {
                sum += perClass.applyAsLong(c);
            }
        }
        return sum;
    }

    /** Slabs of a class now. */
    public long slabs(int sizeClass) {
        return counts(sizeClass).slabs();
    }

    /** Empty slabs a class keeps now. */
    public long emptySlabs(int sizeClass) {
        return counts(sizeClass).emptySlabs();
    }

    /** Objects of a class out of its slabs: with users or in magazines. */
    public long objectsOut(int sizeClass) {
        return counts(sizeClass).objectsOut();
    }

    /**
     * A slab class's figures, read together: its slabs, the empty ones among them, and its
     * objects out of the slabs (with users or in magazines). What /proc/slabinfo shows.
     */
    public record ClassCounts(long slabs, long emptySlabs, long objectsOut) {

        /** These figures and another node's, added. */
        public ClassCounts plus(ClassCounts other) {
            return new ClassCounts(slabs + other.slabs, emptySlabs + other.emptySlabs, objectsOut + other.objectsOut);
        }
    }

    /** A slab class's figures, read together. */
    public ClassCounts counts(int sizeClass) {
        return slabClasses[sizeClass].counts();
    }

    /** The most objects of a class a thread's magazine holds. */
    public int magazineHigh(int sizeClass) {
        return high[sizeClass];
    }

    /** Objects of a class a magazine takes from the slabs, or gives back, at once. */
    public int magazineBatch(int sizeClass) {
        return batch[sizeClass];
    }

    /** Each live magazine set's counters; {@code held} in bytes. */
    public List<CacheSnapshot> snapshots() {
        return registry.snapshots();
    }

    /** The sum over all magazines, live and retired. */
    public CacheSnapshot total() {
        return registry.total();
    }

    /** Runs an audit while no drainer runs. */
    public void whileDrainsPaused(Runnable audit) {
        registry.whileDrainsPaused(audit);
    }

    /**
     * Runs an audit while every class's lock is held: no slab is carved in, filled, emptied or
     * released meanwhile, by any thread. The drains' pause is not enough for that: the reclaimer's
     * shrinker and trim release empty slabs under the class locks alone. Take it before any zone
     * lock, as the allocator does: a slab released under its class lock goes back to its zone.
     */
    public void whileClassesLocked(Runnable audit) {
        whileClassesLocked(0, audit);
    }

    private void whileClassesLocked(int sizeClass, Runnable audit) {
        if (sizeClass == slabClasses.length) {
            audit.run();
        } else if (slabClasses[sizeClass] == null) {
            whileClassesLocked(sizeClass + 1, audit);
        } else {
            slabClasses[sizeClass].whileLocked(() -> whileClassesLocked(sizeClass + 1, audit));
        }
    }

    /** Visits every object in a magazine. Only at a quiescent point. */
    public void forEachCachedObject(ObjectVisitor visitor) {
        registry.forEach(magazines -> magazines.forEach(visitor));
    }

    /** Visits the head pfn of every slab with a free object, class by class. Only at a quiescent point. */
    public void forEachPartialSlab(ObjectVisitor visitor) {
        for (int c = 0; c < slabClasses.length; c++) {
            int sizeClass = c;
            if (slabClasses[c] != null) {
                slabClasses[c].forEachPartialSlab(head -> visitor.visit(head, sizeClass));
            }
        }
    }

    /** The object size of the slab at this offset, or 0 if it is in no slab; for messages. */
    public long objectSizeAt(long offset) {
        int word = descriptors.slab((int) (offset >>> pageShift));
        return word == 0 ? 0 : classes.size((word & CLASS_MASK) - 1);
    }

    /** Whether the object at this offset carries the free marker; for audits. */
    public boolean isMarkedFree(long offset) {
        return memory.get(JAVA_LONG_UNALIGNED, offset) == marker.of(offset);
    }
}
